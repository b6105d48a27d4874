import AdderCore
import Dispatch
import Synchronization

/// A batch of normalised images (N×C×H×W) with their labels and its place in the epoch.
public struct Batch: Sendable {
    public let images: Tensor
    public let labels: [Int]
    public let epoch: Int
    public let index: Int
}

/// What to do with the images left over when the set does not divide into batches.
public enum PartialBatch: String, Sendable, Codable {
    /// Leave them out of this epoch (training: a 1-image batch cannot use batch statistics).
    case drop
    /// Serve them as a smaller last batch (evaluation: every image counts).
    case keep
}

/// How a set is cut into batches. Every batch is a pure function of (epoch, index):
/// the order is a seeded permutation per epoch and augmentation draws from a generator
/// seeded by (seed, epoch, index), so prefetching, threads and resuming never change
/// what a step sees.
public struct BatchPlan: Sendable {
    public let set: ImageSet
    public let batchSize: Int
    public let shuffle: Bool
    public let augment: Bool
    public let normalization: Normalization
    public let partial: PartialBatch
    public let seed: UInt64

    public init(set: ImageSet, batchSize: Int, shuffle: Bool, augment: Bool, normalization: Normalization,
                partial: PartialBatch, seed: UInt64) throws(DataError) {
        guard batchSize > 0 else { throw .invalid("batch size \(batchSize) must be positive") }
        guard normalization.mean.count == set.channels, normalization.std.count == set.channels,
              normalization.std.allSatisfy({ $0 > 0 }) else {
            throw .invalid("normalization for \(set.name) needs \(set.channels) means and \(set.channels) positive stds, got \(normalization)")
        }
        guard set.count >= (partial == .drop ? batchSize : 1) else {
            throw .invalid("\(set.name) has \(set.count) images, fewer than one batch of \(batchSize)")
        }
        self.set = set; self.batchSize = batchSize; self.shuffle = shuffle; self.augment = augment
        self.normalization = normalization; self.partial = partial; self.seed = seed
    }

    /// This process's share of every batch in a data-parallel run: rank `rank` of `ranks`
    /// takes images [rank·b, (rank+1)·b) of each batch, b = batchSize / ranks, with the same
    /// augmentation they get in the whole batch. (0, 1): the whole batch.
    public private(set) var share = (rank: 0, ranks: 1)

    /// The same plan, each batch cut into `ranks` equal shares of which this one is `rank`'s.
    public func sharded(rank: Int, of ranks: Int) throws(DataError) -> BatchPlan {
        guard ranks >= 1, (0..<ranks).contains(rank) else { throw .invalid("rank \(rank) is not one of 0..<\(ranks)") }
        guard batchSize % ranks == 0 else {
            throw .invalid("a batch of \(batchSize) does not split into \(ranks) equal shares: use a batch size divisible by \(ranks)")
        }
        guard partial == .drop || ranks == 1 else { throw .invalid("only whole batches split into shares (partial batches: drop)") }
        var plan = self
        plan.share = (rank, ranks)
        return plan
    }

    public var batchesPerEpoch: Int {
        partial == .drop ? set.count / batchSize : (set.count + batchSize - 1) / batchSize
    }

    /// The image indices of every batch of `epoch`, in order.
    public func order(epoch: Int) -> [Int] {
        shuffle ? Shuffle.permutation(count: set.count, seed: seed, epoch: UInt64(epoch)) : Array(0..<set.count)
    }

    /// Batch `index` of `epoch` (given the epoch's `order`, to avoid recomputing it).
    public func batch(epoch: Int, index: Int, order: [Int]? = nil) -> Batch {
        precondition(index >= 0 && index < batchesPerEpoch, "batch \(index) outside 0..<\(batchesPerEpoch)")
        let order = order ?? self.order(epoch: epoch)
        let start = index * batchSize, share = batchSize / self.share.ranks
        let lo = start + self.share.rank * share, hi = self.share.ranks > 1 ? lo + share : min(start + batchSize, set.count)
        let ids = Array(order[lo..<hi])
        let C = set.channels, H = set.height, W = set.width, plane = H * W
        var images = Tensor(uninitializedShape: [ids.count, C, H, W])
        var g = SeededGenerator(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(index) &* 0xC2B2_AE3D_27D4_EB4F))
        // A share's images draw what they draw in the whole batch: skip the earlier images' three draws each.
        if augment { for _ in 0..<(3 * (lo - start)) { _ = g.next() } }
        let scale = normalization.std.map { 1 / (255 * $0) }, shift = zip(normalization.mean, normalization.std).map { -$0 / $1 }
        set.pixels.withUnsafeBufferPointer { px in
            images.withUnsafeMutableBufferPointer { out in
                for (b, id) in ids.enumerated() {
                    // Random crop of a 4-pixel zero-padded image, and a horizontal flip half the time.
                    let (oy, ox, flip) = augment ? (Int(g.next() % 9) - 4, Int(g.next() % 9) - 4, g.next() & 1 == 1) : (0, 0, false)
                    for c in 0..<C {
                        let src = px.baseAddress! + (id * C + c) * plane
                        let dst = out.baseAddress! + (b * C + c) * plane
                        let s = scale[c], t = shift[c]
                        for y in 0..<H {
                            let sy = y + oy
                            for x in 0..<W {
                                let sx0 = flip ? W - 1 - x : x
                                let sx = sx0 + ox
                                let raw: Float = (sy >= 0 && sy < H && sx >= 0 && sx < W) ? Float(src[sy * W + sx]) : 0
                                dst[y * W + x] = raw * s + t
                            }
                        }
                    }
                }
            }
        }
        return Batch(images: images, labels: ids.map { Int(set.labels[$0]) }, epoch: epoch, index: index)
    }
}

/// Prepares batches ahead on a background queue, so that training never waits on
/// decoding: batches of `plan` from (startEpoch, startIndex) up to the end of
/// `endEpoch` (exclusive), at most `depth` ready at a time. Dropping the prefetcher
/// (or `cancel`) stops the producer.
public final class BatchPrefetcher: Sendable {
    private let core: Core

    public init(plan: BatchPlan, startEpoch: Int, startIndex: Int = 0, endEpoch: Int, depth: Int = 2) {
        let core = Core(depth: depth)
        self.core = core
        DispatchQueue.global(qos: .userInitiated).async {
            core.produce(plan: plan, startEpoch: startEpoch, startIndex: startIndex, endEpoch: endEpoch)
        }
    }

    /// The next batch, waiting if it is not ready; nil after the last one or after `cancel`.
    public func next() -> Batch? { core.next() }

    /// Stops the producer; `next` returns nil from now on.
    public func cancel() { core.cancel() }

    deinit { core.cancel() }

    /// The state shared by the producer and the consumer.
    private final class Core: Sendable {
        private struct State {
            var ready: [Batch] = []
            var cancelled = false
            var finished = false
        }
        private let state = Mutex(State())
        private let available = DispatchSemaphore(value: 0)
        private let space: DispatchSemaphore

        init(depth: Int) {
            // Created at 0 and raised, not created at `depth`: libdispatch traps when a
            // semaphore is freed below its initial value, which a cancelled producer leaves.
            space = DispatchSemaphore(value: 0)
            for _ in 0..<max(depth, 1) { space.signal() }
        }

        func produce(plan: BatchPlan, startEpoch: Int, startIndex: Int, endEpoch: Int) {
            var epoch = startEpoch, index = startIndex
            outer: while epoch < endEpoch {
                let order = plan.order(epoch: epoch)
                while index < plan.batchesPerEpoch {
                    space.wait()
                    if state.withLock({ $0.cancelled }) { break outer }
                    let b = plan.batch(epoch: epoch, index: index, order: order)
                    state.withLock { $0.ready.append(b) }
                    available.signal()
                    index += 1
                }
                epoch += 1; index = 0
            }
            state.withLock { $0.finished = true }
            available.signal()
        }

        func next() -> Batch? {
            while true {
                available.wait()
                let (batch, done): (Batch?, Bool) = state.withLock { s in
                    if s.cancelled { return (nil, true) }
                    if !s.ready.isEmpty { return (s.ready.removeFirst(), false) }
                    return (nil, s.finished)
                }
                if let batch { space.signal(); return batch }
                // Leave the wake-up for the next caller: finished and cancelled are sticky.
                if done { available.signal(); return nil }
            }
        }

        func cancel() {
            state.withLock { $0.cancelled = true }
            space.signal()
            available.signal()
        }
    }
}
