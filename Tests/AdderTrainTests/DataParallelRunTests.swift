import AdderCore
import AdderTestSupport
import Dispatch
import Foundation
import Synchronization
@testable import AdderTrain
import Testing

/// A run over two ranks that are threads of this process (`LocalCollective`): the same
/// Trainer code an MPI job runs, without mpirun.
@Suite("A run over ranks", .timeLimit(.minutes(2)))
struct DataParallelRunTests {
    /// Makes the run on every rank at once (making it is a collective step).
    func makeRuns(_ config: ExperimentConfig, in runs: String) throws -> [TrainingRun] {
        let hub = LocalCollective(size: 2)
        let made = Mutex<[Int: Result<TrainingRun, RunError>]>([:])
        let group = DispatchGroup()
        for rank in 0..<2 {
            group.enter()
            Thread.detachNewThread {
                let r = Result { () throws(RunError) -> TrainingRun in
                    try TrainingRun(config: config, runsDirectory: runs, threads: 1, collective: hub.member(rank))
                }
                made.withLock { $0[rank] = r }
                group.leave()
            }
        }
        group.wait()
        return try made.withLock { m in try (0..<2).map { try m[$0]!.get() } }
    }

    /// Controls sent to rank 0 (η, the gradient rules, pause, stop) take effect on both ranks
    /// at the same step; only rank 0 writes the directory, and the ranks end identical.
    @Test func controlsReachEveryRankAtTheSameStep() throws {
        let runs = tempDir()
        let ranks = try makeRuns(smallConfig("dp", steps: 2000, set: ["layerStatsEvery=10"]), in: runs)
        #expect(ranks[0].directory != nil && ranks[1].directory == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).count == 1)
        for r in ranks { r.start() }
        #expect(waitUntil(30) { ranks[0].snapshot().step >= 5 })
        ranks[0].setEta(0.05)
        ranks[0].toggleGradientMode()
        #expect(waitUntil(30) { ranks[0].snapshot().step >= 15 })
        ranks[0].pause()
        #expect(waitUntil(30) { ranks[0].snapshot().state == .paused })
        let pausedAt = ranks[0].snapshot().step
        usleep(300_000)
        // Rank 1 has done the step rank 0 paused after, and no more.
        #expect(ranks.map { $0.snapshot().step } == [pausedAt, pausedAt])
        ranks[0].stop()
        let ends = ranks.map { $0.wait() }
        #expect(ends.map(\.state) == [.stopped, .stopped])
        #expect(ends[0].step == pausedAt && ends[1].step == pausedAt)
        let sign = GradientMode.rules(GradientRules(filter: .sign, input: .sign))
        #expect(ends.map(\.eta) == [0.05, 0.05] && ends.map(\.gradientMode) == [sign, sign])
        let events = ends[0].events.filter { $0.kind == .eta || $0.kind == .gradientMode }
        #expect(events.count == 2 && events[0].step == events[1].step && events[0].step >= 5 && events[0].step < 15)
        let log = try String(contentsOfFile: ranks[0].directory! + "/run.log", encoding: .utf8)
        let lines = log.split(separator: "\n").map(String.init)
        #expect(lines.first == "dp: lenet5 (paper) on synthetic, 10000 training and 500 test images, 312 steps of 32, 1 thread on each of 2 ranks")
        #expect(lines.contains("data-parallel over 2 ranks: each trains on 16 of every batch of 32, with batch norm synchronised; rank 0 writes this directory"))
        let summary = lines.first { $0.hasPrefix("ranks: ") } ?? "none"
        #expect(summary.wholeMatch(of: /ranks: weights identical on all 2 ranks \(checksum [0-9a-f]{16}\); rank 0 spent \d+\.\d s of \d+\.\d s in collective calls \(\d+\.\d%\)/) != nil, "\(summary)")
    }

    /// A rank that cannot make its share (a batch that does not split) fails on every rank
    /// with the reason, recorded in rank 0's directory.
    @Test func aSetUpFailureEndsEveryRank() throws {
        let runs = tempDir()
        let ranks = try makeRuns(smallConfig("odd", steps: 20, batch: 33), in: runs)
        for r in ranks { r.start() }
        let ends = ranks.map { $0.wait() }
        let reason = "rank 0: odd: a batch of 33 does not split into 2 equal shares: use a batch size divisible by 2"
        #expect(ends.map(\.state) == [.failed, .failed] && ends.map(\.message) == [reason, reason])
        let history = RunReader.read(metricsAt: ranks[0].directory! + "/metrics.jsonl")
        #expect(history.events.last?.detail == "failed: " + reason)
    }

    /// Evaluation is shared among the ranks (every N-th test batch each) and batch-norm
    /// recalibration runs on each rank's share with synchronised statistics: the records
    /// match a single process's, and the ranks' running statistics never differ.
    @Test func evaluationIsSharedAndRecalibrationAgrees() throws {
        let config = smallConfig("eval", steps: 40, set: ["evalEvery=20", "batchNorm.recalibrate=3", "layerStatsEvery=10"])
        let ranks = try makeRuns(config, in: tempDir())
        for r in ranks { r.start() }
        let ends = ranks.map { $0.wait() }
        let alone = try TrainingRun(config: config, runsDirectory: tempDir(), threads: 1)
        alone.start()
        let single = alone.wait()
        #expect(ends.map(\.state) == [.finished, .finished] && single.state == .finished)
        #expect(ends[0].evals.map(\.step) == [20, 40] && single.evals.map(\.step) == [20, 40])
        for (a, b) in zip(ends[0].evals, single.evals) {
            // 40 steps apart by rounding: 2 of 500 test images may change class.
            #expect(abs(a.testLoss - b.testLoss) <= 2e-3 * b.testLoss, "\(a.testLoss) vs \(b.testLoss)")
            #expect(abs(a.testAccuracy - b.testAccuracy) <= 0.01 && abs(a.testAccuracyBatchStatistics - b.testAccuracyBatchStatistics) <= 0.01, "\(a) \(b)")
        }
        let log = try String(contentsOfFile: ranks[0].directory! + "/run.log", encoding: .utf8).split(separator: "\n")
        #expect(!log.contains { $0.contains("differed") })
        #expect(log.contains { $0.hasPrefix("ranks: weights identical on all 2 ranks") })
    }
}
