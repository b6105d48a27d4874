import AdderCore
import Dispatch
import Synchronization

/// The runs of one process: waiting ones in order, and those started, of which at most
/// `limit` train at once, each with `threadsPerRun` kernel threads. The dashboard and
/// `adderlab run` both launch through it. A run's directory is made when it starts, not
/// when it is queued. Thread-safe: runs end (and the next ones start) on their own queues.
public final class RunQueue: Sendable {
    /// What a queued entry will do when it starts.
    public enum Work: Sendable {
        case new(ExperimentConfig)
        /// Continue the run in this directory from its last complete checkpoint.
        case resume(directory: String)
    }

    /// A queued entry; `id` stays the same while it waits.
    public struct Waiting: Sendable {
        public let id: Int
        public let name: String
        public let work: Work
    }

    /// An entry that could not start (its directory could not be made, the run to
    /// resume is locked or unreadable), with the reason.
    public struct Rejected: Sendable {
        public let id: Int
        public let name: String
        public let work: Work
        public let reason: String
    }

    /// What the queue holds at one moment.
    public struct Contents: Sendable {
        public var waiting: [Waiting]
        /// Every run started, in start order (ended ones included).
        public var started: [TrainingRun]
        public var rejected: [Rejected]
        /// Queue id of each started run, by position in `started`.
        public var startedIds: [Int]
    }

    /// The most runs that may train at once, and the threads each one gets: one thread per
    /// run and as many runs as cores (measured on this 2-core machine with the gradient
    /// ablation: 2 runs × 1 thread gave more images per second in all than 1 × 2; see README).
    public static let defaultThreadsPerRun = 1
    public static var defaultLimit: Int { split(runs: Int.max, limit: nil, threadsPerRun: nil).limit }
    public static let maximumLimit = 256

    /// How `runs` runs share the cores when the user gives the limit, the threads per run,
    /// both or neither: runs × threads ≤ cores where the user left a choice, so a single
    /// run gets every core and a group gets `defaultLimit` runs of `defaultThreadsPerRun`.
    public static func split(runs: Int, limit: Int?, threadsPerRun: Int?, cores: Int = ProcessInfoCores.active) -> (limit: Int, threadsPerRun: Int) {
        let cores = max(1, cores)
        switch (limit, threadsPerRun) {
        case let (l?, t?): return (l, t)
        case let (l?, nil): return (l, max(1, cores / max(1, min(l, runs))))
        case let (nil, t?): return (max(1, cores / t), t)
        case (nil, nil):
            let l = max(1, min(cores / defaultThreadsPerRun, runs))
            return (l, max(1, cores / l))
        }
    }

    private struct State {
        var waiting: [Waiting] = []
        var started: [TrainingRun] = []
        var startedIds: [Int] = []
        var rejected: [Rejected] = []
        var training = 0
        var limit: Int
        /// Threads per run as given, or nil: cores ÷ limit.
        var fixedThreads: Int?
        var nextId = 1
        var threadsPerRun: Int { fixedThreads ?? max(1, ProcessInfoCores.active / limit) }
    }
    private let state: Mutex<State>
    private let idle = DispatchGroup()
    public let runsDirectory: String?
    /// The ranks its runs train over (a process started by mpirun), or nil.
    public let collective: (any Collective)?

    /// A queue starting at most `limit` runs at once, each with `threadsPerRun` kernel
    /// threads (nil: the cores divided among the runs the limit allows, following the limit);
    /// with `collective`, each run is trained data-parallel over its ranks (see `TrainingRun`).
    public init(runsDirectory: String?, limit: Int = RunQueue.defaultLimit, threadsPerRun: Int? = nil, collective: (any Collective)? = nil) {
        self.runsDirectory = runsDirectory
        self.collective = collective
        state = Mutex(State(limit: min(max(1, limit), RunQueue.maximumLimit), fixedThreads: threadsPerRun.map { max(1, $0) }))
    }

    /// Adds entries at the end (or the front) of the queue and starts what the limit allows;
    /// returns their ids.
    @discardableResult
    public func enqueue(_ work: [Work], atFront: Bool = false) -> [Int] {
        let ids = state.withLock { s -> [Int] in
            let items = work.map { w -> Waiting in
                defer { s.nextId += 1 }
                return Waiting(id: s.nextId, name: RunQueue.name(of: w), work: w)
            }
            if atFront { s.waiting.insert(contentsOf: items, at: 0) } else { s.waiting += items }
            return items.map(\.id)
        }
        pump()
        return ids
    }

    private static func name(of work: Work) -> String {
        switch work {
        case .new(let c): return c.name
        case .resume(let dir): return (dir as NSString).lastPathComponent
        }
    }

    /// Removes a waiting entry; false when it is not waiting (started or unknown).
    @discardableResult
    public func cancel(_ id: Int) -> Bool {
        state.withLock { s in
            guard let i = s.waiting.firstIndex(where: { $0.id == id }) else { return false }
            s.waiting.remove(at: i)
            return true
        }
    }

    /// Removes every waiting entry and returns how many there were.
    @discardableResult
    public func cancelAll() -> Int {
        state.withLock { s in defer { s.waiting = [] }; return s.waiting.count }
    }

    /// Moves a waiting entry `offset` places towards the front (negative) or the back;
    /// false when it is not waiting.
    @discardableResult
    public func move(_ id: Int, by offset: Int) -> Bool {
        state.withLock { s in
            guard let i = s.waiting.firstIndex(where: { $0.id == id }) else { return false }
            let item = s.waiting.remove(at: i)
            s.waiting.insert(item, at: min(max(0, i + offset), s.waiting.count))
            return true
        }
    }

    /// Starts a waiting entry now, beyond the limit; false when it is not waiting.
    @discardableResult
    public func startNow(_ id: Int) -> Bool {
        let item = state.withLock { s -> Waiting? in
            guard let i = s.waiting.firstIndex(where: { $0.id == id }) else { return nil }
            s.training += 1   // counted from here, so the queue never looks idle in between
            return s.waiting.remove(at: i)
        }
        guard let item else { return false }
        start(item)
        return true
    }

    /// The most runs that train at once (1 … `maximumLimit`); raising it starts waiting runs.
    public var limit: Int {
        get { state.withLock { $0.limit } }
        set {
            state.withLock { $0.limit = min(max(1, newValue), RunQueue.maximumLimit) }
            pump()
        }
    }

    /// Kernel threads of each run started from now on.
    public var threadsPerRun: Int { state.withLock { $0.threadsPerRun } }

    public func contents() -> Contents {
        state.withLock { Contents(waiting: $0.waiting, started: $0.started, rejected: $0.rejected, startedIds: $0.startedIds) }
    }

    /// Runs started and not ended yet.
    public var trainingCount: Int { state.withLock { $0.training } }

    /// Waits until nothing waits and every started run has ended (or `seconds` pass);
    /// true when done.
    public func wait(seconds: Double) -> Bool {
        let deadline = DispatchTime.now() + seconds
        while true {
            let busy = state.withLock { !$0.waiting.isEmpty || $0.training > 0 }
            if !busy { return true }
            if DispatchTime.now() >= deadline { return false }
            _ = idle.wait(timeout: min(deadline, .now() + 0.05))
        }
    }

    /// Starts waiting runs if slots are free: call it when a run was paused (a paused run
    /// does not hold a slot; resumed, it may go beyond the limit until a run ends).
    public func rebalance() { pump() }

    /// Starts waiting entries, front first, while fewer than `limit` train (paused runs
    /// are not training).
    private func pump() {
        // Called every frame by the dashboard: with nothing waiting, nothing to look at.
        guard let started = state.withLock({ $0.waiting.isEmpty ? nil : $0.started }) else { return }
        let paused = started.filter { $0.snapshot().state == .paused }.count
        while let item = state.withLock({ s -> Waiting? in
            guard s.training - paused < s.limit, !s.waiting.isEmpty else { return nil }
            s.training += 1
            return s.waiting.removeFirst()
        }) {
            start(item)
        }
    }

    /// Makes and starts the run of `item`, already counted as training.
    private func start(_ item: Waiting) {
        let threads = threadsPerRun
        let run: TrainingRun
        do {
            switch item.work {
            case .new(let config): run = try TrainingRun(config: config, runsDirectory: runsDirectory, threads: threads, collective: collective)
            case .resume(let dir): run = try TrainingRun(resuming: dir, threads: threads, collective: collective)
            }
        } catch {
            state.withLock { s in
                s.rejected.append(Rejected(id: item.id, name: item.name, work: item.work, reason: error.message))
                s.training -= 1
            }
            pump()
            return
        }
        state.withLock { s in
            s.started.append(run)
            s.startedIds.append(item.id)
        }
        idle.enter()
        run.start { [self] in
            state.withLock { $0.training -= 1 }
            idle.leave()
            pump()
        }
    }
}

import Foundation
