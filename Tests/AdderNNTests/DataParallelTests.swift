import AdderCore
import AdderTestSupport
import Dispatch
import Foundation
@testable import AdderNN
import Testing

/// Runs `body(rank, collective)` on `size` threads, one per rank of an in-process
/// collective, and returns their results in rank order.
func onRanks<T: Sendable>(_ size: Int, _ body: @escaping @Sendable (Int, any Collective) -> T) -> [T] {
    let hub = LocalCollective(size: size)
    let results = ResultBox<T>(size)
    let group = DispatchGroup()
    for rank in 0..<size {
        group.enter()
        Thread.detachNewThread {
            results.set(rank, Parallel.withThreads(1) { body(rank, hub.member(rank)) })
            group.leave()
        }
    }
    group.wait()
    return results.all
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [T?]
    init(_ n: Int) { values = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ v: T) { lock.withLock { values[i] = v } }
    var all: [T] { lock.withLock { values.map { $0! } } }
}

@Suite("Data-parallel training over ranks")
struct DataParallelTests {
    @Test func theInProcessCollectiveSumsBroadcastsAndGathers() {
        let results = onRanks(3) { rank, ranks -> [String] in
            var d = [Double(rank), 10 * Double(rank + 1)]
            ranks.sum(&d)
            var f: [Float] = [Float(rank) + 0.5]
            ranks.sum(&f)
            var b = [Double(rank * 7)]
            ranks.broadcast(&b, from: 2)
            let failure = ranks.firstFailure(rank == 1 ? "no data" : nil)
            let none = ranks.firstFailure(nil)
            return ["\(d)", "\(f)", "\(b)", failure ?? "-", none ?? "-", "\(ranks.gather([UInt8(rank)]))"]
        }
        let expected = ["[3.0, 60.0]", "[4.5]", "[14.0]", "rank 1: no data", "-", "[[0], [1], [2]]"]
        #expect(results == Array(repeating: expected, count: 3))
    }

    /// Two ranks with half a batch each, batch norm synchronised (with and without the ReLU
    /// fused into it), against one batch norm on the whole batch: the same outputs, running statistics and input gradients, and dγ, dβ
    /// whose sum over the ranks is the whole batch's.
    @Test(arguments: [1, 2], [false, true]) func synchronisedBatchNormIsTheWholeBatchs(dimensions: Int, fusedReLU: Bool) throws {
        let shape = dimensions == 2 ? [8, 3, 4, 5] : [8, 6]
        var g = SeededGenerator(seed: 5)
        // Large negative means, as adder outputs have: the moments must stay well conditioned.
        let x = try Tensor(shape: shape, values: Tensor.normal(shape: shape, std: 3, generator: &g).values.map { $0 - 40 })
        let dy = Tensor.normal(shape: shape, generator: &g)
        let channels = shape[1]
        @Sendable func layer() -> BatchNorm {
            let bn = BatchNorm(channels: channels, dimensions: dimensions)
            bn.fusedReLU = fusedReLU
            bn.scale.value = try! Tensor(shape: [channels], values: (0..<channels).map { 0.5 + Float($0) * 0.25 })
            bn.shift.value = try! Tensor(shape: [channels], values: (0..<channels).map { Float($0) * 0.1 - 0.2 })
            return bn
        }
        let whole = layer()
        let y = whole.forward(x, training: true)
        let dx = whole.backward(dy)
        let half = x.count / 2
        let parts = onRanks(2) { rank, ranks -> [[Float]] in
            let bn = layer()
            bn.collective = ranks
            let share = Array(shape.dropFirst())
            let mine = try! Tensor(shape: [4] + share, values: Array(x.values[rank * half..<(rank + 1) * half]))
            let myDy = try! Tensor(shape: [4] + share, values: Array(dy.values[rank * half..<(rank + 1) * half]))
            let out = bn.forward(mine, training: true)
            let back = bn.backward(myDy)
            return [out.values, back.values, bn.runningMean.value.values, bn.runningVariance.value.values, bn.scale.grad.values, bn.shift.grad.values]
        }
        #expect(maxDifference(parts[0][0] + parts[1][0], y.values) < 1e-4)
        #expect(relativeError(parts[0][1] + parts[1][1], dx.values) < 1e-4)
        for r in 0..<2 {
            #expect(maxDifference(parts[r][2], whole.runningMean.value.values) < 1e-4)
            #expect(relativeError(parts[r][3], whole.runningVariance.value.values) < 1e-5)
        }
        #expect(relativeError(zip(parts[0][4], parts[1][4]).map(+), whole.scale.grad.values) < 1e-4)
        #expect(relativeError(zip(parts[0][5], parts[1][5]).map(+), whole.shift.grad.values) < 1e-4)
    }

    /// Three steps of a LeNet-5-BN AdderNet over two ranks (half of each batch each) against
    /// one process on the whole batches: the same losses and counts, and every parameter and
    /// running statistic the same on both ranks and close to the single process's.
    @Test func twoRanksTrainTheModelOneProcessTrains() {
        let n = 16
        var g = SeededGenerator(seed: 3)
        let batches = (0..<3).map { _ in Tensor.normal(shape: [n, 1, 28, 28], generator: &g) }
        let labels = (0..<n).map { ($0 * 7) % 10 }
        @Sendable func train(_ images: [Tensor], _ labels: [Int], ranks: (any Collective)?) -> (losses: [Float], correct: [Int], state: [Float]) {
            let m = Model(.lenet5, placement: .paper, seed: 1)
            m.collective = ranks
            let opt = SGD(parameters: m.namedParameters)
            var losses: [Float] = [], correct: [Int] = []
            for x in images {
                let r = m.trainStep(images: x, labels: labels, optimizer: opt, learningRate: 0.05)
                losses.append(r.loss); correct.append(r.correctTop1)
            }
            return (losses, correct, m.namedParameters.flatMap { $0.1.value.values })
        }
        let alone = Parallel.withThreads(1) { train(batches, labels, ranks: nil) }
        let half = n / 2 * 28 * 28
        let ranked = onRanks(2) { rank, ranks in
            let mine = batches.map { try! Tensor(shape: [n / 2, 1, 28, 28], values: Array($0.values[rank * half..<(rank + 1) * half])) }
            return train(mine, Array(labels[rank * n / 2..<(rank + 1) * n / 2]), ranks: ranks)
        }
        #expect(ranked[0].losses == ranked[1].losses && ranked[0].correct == ranked[1].correct)
        #expect(ranked[0].state == ranked[1].state)
        #expect(relativeError(ranked[0].losses, alone.losses) < 1e-4, "\(ranked[0].losses) vs \(alone.losses)")
        #expect(ranked[0].correct == alone.correct)
        #expect(relativeError(ranked[0].state, alone.state) < 1e-3)
    }
}
