/// The heap buffer behind a `Tensor`: 64-byte aligned Float32 memory.
///
/// `@unchecked Sendable` is safe because a storage is only ever written through
/// `Tensor`'s mutating accessors, which first make the storage unique
/// (copy-on-write); a storage reachable from more than one tensor, or from more
/// than one thread, is therefore never mutated.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int

    init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    func copy() -> TensorStorage {
        let s = TensorStorage(count: count)
        s.pointer.update(from: pointer, count: count)
        return s
    }

    deinit { UnsafeMutableRawPointer(pointer).deallocate() }
}
