import AdderCore
import AdderTestSupport
import AdderTrain
import Foundation
import Testing

@Suite("Run queue")
struct RunQueueTests {
    func configs(_ names: [String], steps: Int = 12) -> [RunQueue.Work] {
        names.map { .new(smallConfig($0, steps: steps)) }
    }

    func directories(_ dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
    }

    /// With a limit of 1, runs train one at a time in queue order, and each run's directory
    /// is made only when it starts.
    @Test func limitOfOneTrainsInOrder() throws {
        let dir = temporaryDirectory()
        let queue = RunQueue(runsDirectory: dir, limit: 1, threadsPerRun: 1)
        queue.enqueue(configs(["a", "b", "c"]))
        let first = queue.contents()
        #expect(first.started.map(\.config.name) == ["a"])
        #expect(first.waiting.map(\.name) == ["b", "c"])
        #expect(directories(dir).count == 1, "queued runs have no directory yet: \(directories(dir))")
        var most = 0
        while !queue.wait(seconds: 0.005) { most = max(most, queue.trainingCount) }
        #expect(most == 1)
        let done = queue.contents()
        #expect(done.started.map(\.config.name) == ["a", "b", "c"])
        #expect(done.started.map { $0.snapshot().state } == [.finished, .finished, .finished])
        #expect(done.started.map(\.threads) == [1, 1, 1])
        #expect(directories(dir).count == 3)
    }

    @Test func limitOfTwoStartsTwo() throws {
        let queue = RunQueue(runsDirectory: nil, limit: 2, threadsPerRun: 1)
        queue.enqueue(configs(["a", "b", "c"]))
        #expect(queue.trainingCount == 2)
        #expect(queue.contents().waiting.map(\.name) == ["c"])
        #expect(queue.wait(seconds: 120))
        #expect(queue.contents().started.map { $0.snapshot().state } == [.finished, .finished, .finished])
    }

    /// Waiting entries can be moved, cancelled and started at once; the rest keep their order.
    @Test func moveCancelStartNow() throws {
        let queue = RunQueue(runsDirectory: nil, limit: 1, threadsPerRun: 1)
        let ids = queue.enqueue(configs(["a", "b", "c", "d"], steps: 40))
        #expect(queue.move(ids[3], by: -2))
        #expect(queue.contents().waiting.map(\.name) == ["d", "b", "c"])
        #expect(queue.move(ids[3], by: -5), "moving past the front stops at the front")
        #expect(queue.move(ids[1], by: 9))
        #expect(queue.contents().waiting.map(\.name) == ["d", "c", "b"])
        #expect(queue.cancel(ids[1]))
        #expect(!queue.cancel(ids[1]), "already gone")
        #expect(!queue.cancel(ids[0]), "started runs are not cancelled from the queue")
        #expect(queue.startNow(ids[2]))
        #expect(queue.trainingCount == 2, "start now goes beyond the limit")
        #expect(queue.contents().waiting.map(\.name) == ["d"])
        #expect(queue.wait(seconds: 120))
        let done = queue.contents()
        #expect(done.started.map(\.config.name) == ["a", "c", "d"])
        #expect(done.startedIds == [ids[0], ids[2], ids[3]])
    }

    /// Raising the limit starts waiting runs at once.
    @Test func raisingTheLimitStartsMore() throws {
        let queue = RunQueue(runsDirectory: nil, limit: 1, threadsPerRun: 1)
        queue.enqueue(configs(["a", "b", "c"], steps: 40))
        #expect(queue.trainingCount == 1)
        queue.limit = 3
        #expect(queue.trainingCount == 3)
        #expect(queue.contents().waiting.isEmpty)
        queue.limit = 0
        #expect(queue.limit == 1, "the limit is at least 1")
        #expect(queue.wait(seconds: 120))
    }

    /// An entry that cannot start is kept with its reason; the rest of the queue goes on.
    @Test func aRunThatCannotStartIsRejectedWithItsReason() throws {
        let dir = temporaryDirectory()
        let queue = RunQueue(runsDirectory: dir, limit: 1, threadsPerRun: 1)
        let missing = dir + "/no-such-run"
        queue.enqueue([.resume(directory: missing)] + configs(["after"]))
        #expect(queue.wait(seconds: 120))
        let c = queue.contents()
        #expect(c.rejected.count == 1)
        #expect(c.rejected.first?.name == "no-such-run")
        #expect(c.rejected.first?.reason == "\(missing)/config.yaml: no such file or directory; is \(missing) a run directory?")
        #expect(c.started.map(\.config.name) == ["after"])
        #expect(c.started.first?.snapshot().state == .finished)
    }

    /// A paused run does not hold its slot: the next waiting run starts.
    @Test func aPausedRunFreesItsSlot() throws {
        let queue = RunQueue(runsDirectory: nil, limit: 1, threadsPerRun: 1)
        queue.enqueue(configs(["a", "b"], steps: 400))
        let a = queue.contents().started[0]
        #expect(waitUntil { a.snapshot().state == .running })
        queue.rebalance()
        #expect(queue.contents().started.count == 1, "a running run holds the only slot")
        a.pause()
        #expect(waitUntil { a.snapshot().state == .paused })
        queue.rebalance()
        #expect(queue.contents().started.map(\.config.name) == ["a", "b"])
        for r in queue.contents().started { r.stop() }
        #expect(queue.wait(seconds: 60))
    }
}
