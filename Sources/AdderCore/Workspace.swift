/// Scratch memory shared by the layers of one model: unfolded inputs and
/// column-layout gradients are rebuilt in here instead of being allocated per call
/// or kept per layer (a ResNet-20 at batch 128 would otherwise hold ~0.9 GB of
/// columns). A workspace belongs to one model and is used from one thread at a time
/// (the run's queue); kernels inside a call may fan out over it.
public final class Workspace {
    /// The independent scratch areas a layer may hold at the same time.
    public enum Slot: Int, CaseIterable, Sendable {
        case columns, columnGradient, output
    }

    private var pointers: [UnsafeMutablePointer<Float>?]
    private var capacities: [Int]

    public init() {
        pointers = Array(repeating: nil, count: Slot.allCases.count)
        capacities = Array(repeating: 0, count: Slot.allCases.count)
    }

    /// A buffer of at least `count` floats for `slot`; its contents are unspecified and
    /// are invalidated by the next request for the same slot.
    public func buffer(_ slot: Slot, count: Int) -> UnsafeMutablePointer<Float> {
        let i = slot.rawValue
        if let p = pointers[i], capacities[i] >= count { return p }
        if let p = pointers[i] { UnsafeMutableRawPointer(p).deallocate() }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(count, 1) * 4, alignment: 64)
        let p = raw.bindMemory(to: Float.self, capacity: Swift.max(count, 1))
        pointers[i] = p
        capacities[i] = count
        return p
    }

    /// Bytes currently held.
    public var bytes: Int { capacities.reduce(0, +) * 4 }

    deinit {
        for p in pointers { if let p { UnsafeMutableRawPointer(p).deallocate() } }
    }
}
