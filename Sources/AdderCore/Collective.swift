import CMPI
import Foundation
import Synchronization

/// The ranks of one data-parallel run and the operations they do together. Every rank
/// calls the same operations in the same order; each call returns once every rank has
/// made it. Calls come from one thread at a time.
public protocol Collective: AnyObject, Sendable {
    /// This process's rank, 0 to `size` − 1; rank 0 writes the run directory.
    var rank: Int { get }
    var size: Int { get }
    /// Replaces `values` by their sum over every rank (the same on every rank).
    func sum(_ values: UnsafeMutableBufferPointer<Double>)
    func sum(_ values: UnsafeMutableBufferPointer<Float>)
    /// Replaces `bytes` on every rank by rank `root`'s.
    func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int)
    /// Every rank's `bytes` (all ranks give the same count), in rank order.
    func gather(_ bytes: [UInt8]) -> [[UInt8]]
    /// Seconds spent in the calls above so far (waiting for other ranks included).
    var secondsInCalls: Double { get }
}

extension Collective {
    /// Sums `values` in place over every rank.
    public func sum(_ values: inout [Double]) { values.withUnsafeMutableBufferPointer { sum($0) } }
    public func sum(_ values: inout [Float]) { values.withUnsafeMutableBufferPointer { sum($0) } }

    /// Rank `root`'s `values` (same count on every rank).
    public func broadcast<T: BitwiseCopyable>(_ values: inout [T], from root: Int = 0) {
        values.withUnsafeMutableBytes { broadcast($0, from: root) }
    }

    /// The first failure any rank reports, as "rank K: message", the same on every rank;
    /// nil when none failed. Every rank calls it at the same point, failed or not.
    public func firstFailure(_ mine: String?) -> String? {
        // A fixed length per rank, as a gather needs: 1 byte of flag, then the message.
        let length = 1024
        var bytes = [UInt8](repeating: 0, count: length)
        if let mine {
            bytes[0] = 1
            for (i, b) in Array(mine.utf8.prefix(length - 1)).enumerated() { bytes[i + 1] = b }
        }
        for (rank, other) in gather(bytes).enumerated() where other.first == 1 {
            let text = other.dropFirst().prefix { $0 != 0 }
            return "rank \(rank): " + String(decoding: text, as: UTF8.self)
        }
        return nil
    }
}

/// Open MPI's MPI_COMM_WORLD, for a process started by `mpirun` (libmpi is loaded at run
/// time: see CMPI). A failed MPI call ends every rank (MPI's default error handler).
public final class MPICollective: Collective {
    public let rank: Int
    public let size: Int
    private let spent = Mutex(0.0)

    /// The ranks of this job when this process was started by Open MPI's `mpirun` with
    /// more than one rank; nil otherwise (a plain run, nothing loaded). Throws when
    /// mpirun started it but MPI cannot start.
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws(MPIError) -> MPICollective? {
        guard let text = environment["OMPI_COMM_WORLD_SIZE"] else { return nil }
        guard let n = Int(text), n >= 1, n <= 1 << 20 else {
            throw MPIError("OMPI_COMM_WORLD_SIZE is '\(text.prefix(40))'; expected a number of ranks from 1 (set by Open MPI's mpirun)")
        }
        guard n > 1 else { return nil }
        return try MPICollective()
    }

    private init() throws(MPIError) {
        var r: Int32 = 0, s: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        guard adder_mpi_init(&r, &s, &message, Int32(message.count)) == 0 else {
            throw MPIError(String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        rank = Int(r); size = Int(s)
    }

    private func timed(_ body: () -> Int32) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let code = body()
        // With MPI_ERRORS_ARE_FATAL (the default) a failed call never returns; this is for a job that changed it.
        precondition(code == 0, "MPI call failed with code \(code)")
        spent.withLock { $0 += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9 }
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Double>) {
        guard let p = values.baseAddress else { return }
        timed { adder_mpi_sum_doubles(p, Int32(values.count)) }
    }

    public func sum(_ values: UnsafeMutableBufferPointer<Float>) {
        guard let p = values.baseAddress else { return }
        timed { adder_mpi_sum_floats(p, Int32(values.count)) }
    }

    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) {
        guard let p = bytes.baseAddress else { return }
        timed { adder_mpi_broadcast(p, Int32(bytes.count), Int32(root)) }
    }

    public func gather(_ bytes: [UInt8]) -> [[UInt8]] {
        var all = [UInt8](repeating: 0, count: bytes.count * size)
        timed { bytes.withUnsafeBytes { mine in all.withUnsafeMutableBytes { adder_mpi_gather(mine.baseAddress, $0.baseAddress, Int32(bytes.count)) } } }
        return (0..<size).map { Array(all[$0 * bytes.count..<($0 + 1) * bytes.count]) }
    }

    public var secondsInCalls: Double { spent.withLock { $0 } }

    /// Ends every rank of the job (after this rank has said why on standard error).
    public func abort(_ code: Int32) -> Never {
        adder_mpi_abort(code)
        exit(code)
    }

    public func finalize() { _ = adder_mpi_finalize() }
}

public struct MPIError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// `size` ranks as threads of one process, for tests: each thread takes `member(rank)`.
/// Every operation is an exchange of bytes; sums add the ranks' values in rank order, so
/// every rank gets the same result.
public final class LocalCollective: @unchecked Sendable {
    public let size: Int
    private struct Round {
        var generation = 0
        var deposited: [[UInt8]?]
        var result: [[UInt8]] = []
        var readers = 0
    }
    private let condition = NSCondition()
    /// Guarded by `condition`.
    private var round: Round

    public init(size: Int) {
        precondition(size >= 1)
        self.size = size
        round = Round(deposited: Array(repeating: nil, count: size))
    }

    public func member(_ rank: Int) -> any Collective { Member(hub: self, rank: rank) }

    /// Every rank's bytes, once every rank has given its own.
    fileprivate func exchange(_ bytes: [UInt8], rank: Int) -> [[UInt8]] {
        condition.lock()
        defer { condition.unlock() }
        // Wait until the previous round has been read by everyone.
        while round.deposited[rank] != nil || round.readers > 0 { condition.wait() }
        round.deposited[rank] = bytes
        let generation = round.generation
        if round.deposited.allSatisfy({ $0 != nil }) {
            round.result = round.deposited.map { $0! }
            round.readers = size
            round.generation += 1
            condition.broadcast()
        }
        while round.generation == generation { condition.wait() }
        let result = round.result
        round.readers -= 1
        if round.readers == 0 {
            round.deposited = Array(repeating: nil, count: size)
            condition.broadcast()
        }
        return result
    }

    private final class Member: Collective {
        let hub: LocalCollective
        let rank: Int
        var size: Int { hub.size }
        var secondsInCalls: Double { 0 }
        init(hub: LocalCollective, rank: Int) { self.hub = hub; self.rank = rank }

        private func added<T: BinaryFloatingPoint>(_ values: UnsafeMutableBufferPointer<T>) {
            let all = hub.exchange(Array(UnsafeRawBufferPointer(values)), rank: rank)
            for i in values.indices { values[i] = 0 }
            for bytes in all {
                bytes.withUnsafeBytes { raw in
                    for i in values.indices { values[i] += raw.load(fromByteOffset: i * MemoryLayout<T>.stride, as: T.self) }
                }
            }
        }

        func sum(_ values: UnsafeMutableBufferPointer<Double>) { added(values) }
        func sum(_ values: UnsafeMutableBufferPointer<Float>) { added(values) }

        func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) {
            let all = hub.exchange(Array(UnsafeRawBufferPointer(bytes)), rank: rank)
            all[root].withUnsafeBytes { bytes.copyMemory(from: $0) }
        }

        func gather(_ bytes: [UInt8]) -> [[UInt8]] { hub.exchange(bytes, rank: rank) }
    }
}
