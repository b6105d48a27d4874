/// A dense Float32 tensor in row-major (for images: NCHW) order.
///
/// Ownership rule: `Tensor` is a value type with copy-on-write storage. Copies are
/// cheap and share memory until one of them is mutated, at which point the mutated
/// copy takes its own buffer. Raw pointers handed out by the `withUnsafe…` methods
/// are valid only inside the closure.
public struct Tensor: Sendable {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    /// Number of elements.
    @inlinable public var count: Int { storage.count }

    /// A tensor of `shape` filled with `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor shape \(shape) has a negative dimension")
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
        storage.pointer.initialize(repeating: value, count: storage.count)
    }

    /// A tensor of `shape` holding `values` in row-major order; the counts must agree.
    public init(shape: [Int], values: [Float]) throws(TensorError) {
        let n = shape.reduce(1, *)
        guard shape.allSatisfy({ $0 >= 0 }), n == values.count else {
            throw .countMismatch(shape: shape, count: values.count)
        }
        self.shape = shape
        storage = TensorStorage(count: n)
        values.withUnsafeBufferPointer { storage.pointer.initialize(from: $0.baseAddress!, count: n) }
    }

    /// An uninitialised tensor, for kernels that overwrite every element.
    public init(uninitializedShape shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// The elements as an array, in row-major order.
    public var values: [Float] { Array(UnsafeBufferPointer(start: storage.pointer, count: count)) }

    /// Element at a multi-dimensional index (slow; for tests and small tools).
    public subscript(_ index: Int...) -> Float {
        get { storage.pointer[flatIndex(index)] }
        set { let i = flatIndex(index); makeUnique(); storage.pointer[i] = newValue }
    }

    private func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == shape.count, "index \(index) does not fit shape \(shape)")
        var flat = 0
        for (i, d) in zip(index, shape) {
            precondition(i >= 0 && i < d, "index \(index) is out of bounds for shape \(shape)")
            flat = flat * d + i
        }
        return flat
    }

    public mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.pointer, count: count))
    }

    public mutating func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        makeUnique()
        return try body(UnsafeMutableBufferPointer(start: storage.pointer, count: count))
    }

    /// Opens several tensors at once, as llm.c passes buffers to its kernels: `body` gets
    /// the base addresses of `inputs` (read-only) and of `outputs` (made unique first, so
    /// writing them changes no other tensor), in order. The pointers are valid during
    /// `body` only. Put an output into `outputs` without another reference to it (create
    /// it there, take it out after) or making it unique copies it.
    public static func withPointers<R>(_ inputs: [Tensor], _ outputs: inout [Tensor],
                                       _ body: ([UnsafePointer<Float>], [UnsafeMutablePointer<Float>]) throws -> R) rethrows -> R {
        for i in outputs.indices { outputs[i].makeUnique() }
        let ins = inputs.map { UnsafePointer($0.storage.pointer) }
        let outs = outputs.map(\.storage.pointer)
        // The arrays keep every storage alive until `body` returns.
        return try withExtendedLifetime((inputs, outputs)) { try body(ins, outs) }
    }

    /// The same elements under a new shape with the same element count.
    public func reshaped(_ newShape: [Int]) throws(TensorError) -> Tensor {
        guard newShape.allSatisfy({ $0 >= 0 }), newShape.reduce(1, *) == count else {
            throw .shapeMismatch(expected: shape, got: newShape, context: "reshape")
        }
        var t = self
        t.shape = newShape
        return t
    }

    /// `reshaped` for call sites where a mismatch is a programming error.
    public func reshapedOrDie(_ newShape: [Int]) -> Tensor {
        do { return try reshaped(newShape) } catch { preconditionFailure(error.description) }
    }

    /// Stops with a message naming both shapes when `shape` is not `expected`.
    public func checkShape(_ expected: [Int], _ context: @autoclosure () -> String) {
        if shape != expected {
            preconditionFailure(TensorError.shapeMismatch(expected: expected, got: shape, context: context()).description)
        }
    }
}

extension Tensor: Equatable {
    public static func == (a: Tensor, b: Tensor) -> Bool {
        a.shape == b.shape && (a.storage === b.storage || memcmp(a.storage.pointer, b.storage.pointer, a.count * 4) == 0)
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let head = values.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(\(shape)\(count > 0 ? ": " + head : "")\(count > 8 ? ", …" : ""))"
    }
}

/// Shape and size errors, with both sides named.
public enum TensorError: Error, Equatable, CustomStringConvertible {
    case shapeMismatch(expected: [Int], got: [Int], context: String)
    case countMismatch(shape: [Int], count: Int)

    public var description: String {
        switch self {
        case let .shapeMismatch(expected, got, context):
            return "\(context): expected shape \(expected), got \(got)"
        case let .countMismatch(shape, count):
            return "shape \(shape) holds \(shape.reduce(1, *)) elements, but \(count) values were given"
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
