import AdderTrain
import Foundation

/// The dashboard's controller: owns the live runs, reads past runs from the runs
/// directory, turns keys into actions and keeps `state` current. It runs on the UI
/// thread only; the runs train on their own queues and are reached through their
/// thread-safe controls and snapshots.
public final class Dashboard {
    public private(set) var state = DashboardState()
    public let experimentsDirectory: String
    public private(set) var live: [TrainingRun] = []
    /// Set when the user has confirmed quitting.
    public private(set) var shouldQuit = false
    private var lastScan = Date.distantPast

    public init(runsDirectory: String, experimentsDirectory: String, unicode: Bool, color: Bool) {
        self.experimentsDirectory = experimentsDirectory
        state.runsDirectory = runsDirectory
        state.unicode = unicode
        state.color = color
        scanRunsDirectory()
    }

    /// A run directory read from disk: its configuration and its metrics file, followed
    /// from the last offset read (a growing file is never read twice).
    private struct PastRun {
        var config: ExperimentConfig
        var metrics: MetricsFile
        var entry: RunEntry
    }
    private var pastRuns: [String: PastRun] = [:]
    /// Run directories that could not be read, with the reason (shown, never hidden).
    public private(set) var unreadable: [String: String] = [:]
    /// True while run directories found on disk are still being read.
    public var isReading: Bool { !pending.isEmpty }

    /// Bytes of metrics read per run and frame: a huge file loads over a few frames
    /// instead of freezing the screen.
    static let chunk = 4 << 20

    /// Run directories found but not read yet, newest first: a large runs directory is
    /// read a slice per frame, so the first frame does not wait for all of it.
    private var pending: [String] = []
    /// Seconds of reading per frame.
    static let readBudget = 0.1

    /// Re-reads the runs directory: new runs are queued for reading (newest first),
    /// known ones continue from where their metrics file was last read.
    public func scanRunsDirectory() {
        let liveDirs = Set(live.compactMap(\.directory))
        let dirs = RunReader.runDirectories(in: state.runsDirectory).filter { !liveDirs.contains($0) }
        let present = Set(dirs)
        for gone in Set(pastRuns.keys).subtracting(present) { pastRuns[gone] = nil }
        for gone in Set(unreadable.keys).subtracting(present) { unreadable[gone] = nil }
        for dir in dirs {
            guard var known = pastRuns[dir] else { continue }
            // A run shown as training elsewhere is looked at again: its holder may be gone.
            let changed = known.metrics.update(chunk: Dashboard.chunk)
            if changed || known.entry.snapshot.state == .running || known.metrics.history.fileProblem != known.entry.snapshot.fileProblem {
                known.entry = entry(dir, known)
            }
            pastRuns[dir] = known
        }
        let queued = Set(pending)
        let new = dirs.filter { pastRuns[$0] == nil && unreadable[$0] == nil && !queued.contains($0) }
        pending = (pending.filter(present.contains) + new.map { ($0, modificationTime($0)) }.sorted { $0.1 > $1.1 }.map(\.0))
        allDirectories = dirs
        readPending()
        lastScan = Date()
        refresh()
    }

    /// The run directories found by the last scan, in name order.
    private var allDirectories: [String] = []

    private func modificationTime(_ dir: String) -> Double {
        var st = stat()
        return stat(RunFiles(dir).metrics, &st) == 0 || stat(dir, &st) == 0 ? Double(st.st_mtim.tv_sec) : 0
    }

    /// Reads queued run directories for up to `readBudget` seconds.
    private func readPending() {
        guard !pending.isEmpty else { return }
        let start = Date()
        var newProblems = 0
        while let dir = pending.first, Date().timeIntervalSince(start) < Dashboard.readBudget {
            pending.removeFirst()
            let config: ExperimentConfig
            do { config = try RunDirectory.readConfig(dir) } catch {
                unreadable[dir] = "\(error)"
                newProblems += 1
                continue
            }
            var run = PastRun(config: config, metrics: MetricsFile(path: RunFiles(dir).metrics),
                              entry: RunEntry(id: dir, snapshot: RunSnapshot(config: config), live: false))
            run.metrics.update(chunk: Dashboard.chunk)
            run.entry = entry(dir, run)
            pastRuns[dir] = run
        }
        if newProblems > 0, let first = unreadable.keys.sorted().first {
            let n = unreadable.count
            state.message = "\(n) run director\(n == 1 ? "y" : "ies") could not be read: \(unreadable[first]!)"
        } else if !pending.isEmpty {
            state.message = "reading run directories: \(pastRuns.count + unreadable.count) of \(allDirectories.count)…"
        } else if state.message.hasPrefix("reading run directories") {
            state.message = "read \(allDirectories.count) run directories"
        }
    }

    private func entry(_ dir: String, _ run: PastRun) -> RunEntry {
        RunEntry(id: dir, snapshot: RunReader.snapshot(config: run.config, directory: dir, history: run.metrics.history), live: false)
    }

    /// Reads the next chunk of the metrics files not read to their end yet.
    private func continueReading() {
        for (dir, var run) in pastRuns where run.metrics.hasUnread {
            run.metrics.update(chunk: Dashboard.chunk)
            run.entry = entry(dir, run)
            pastRuns[dir] = run
        }
    }

    /// Takes fresh snapshots of the live runs (and re-reads the directory every few seconds).
    public func refresh() {
        if Date().timeIntervalSince(lastScan) > 5 { scanRunsDirectory(); return }
        readPending()
        continueReading()
        // Runs read from disk (in name order), then the ones trained here.
        let past = allDirectories.compactMap { pastRuns[$0]?.entry }
        let focusedId = state.focused?.id
        state.runs = past + live.map { RunEntry(id: $0.directory ?? $0.config.name, snapshot: $0.snapshot(), live: true) }
        if let focusedId, let i = state.runs.firstIndex(where: { $0.id == focusedId }) { state.focus = i }
        state.focus = min(max(state.focus, 0), max(state.runs.count - 1, 0))
    }

    /// Starts every run of `experiment`, compares them, and focuses the first.
    public func launch(_ experiment: Experiment) {
        var started: [TrainingRun] = []
        for config in experiment.runs {
            do {
                let run = try TrainingRun(config: config, runsDirectory: state.runsDirectory)
                run.start()
                started.append(run)
            } catch {
                state.message = "cannot launch \(config.name): \(error)"
            }
        }
        live += started
        refresh()
        if let first = started.first, let i = state.runs.firstIndex(where: { $0.id == (first.directory ?? first.config.name) }) {
            state.focus = i
        }
        if started.count > 1 { state.compared = Set(started.map { $0.directory ?? $0.config.name }) }
        if !started.isEmpty { state.message = "launched \(experiment.name): \(started.count) run\(started.count == 1 ? "" : "s")" }
    }

    public func setMessage(_ m: String) { state.message = m }

    private var focusedRun: TrainingRun? {
        guard let e = state.focused, e.live else { return nil }
        return live.first { ($0.directory ?? $0.config.name) == e.id }
    }

    /// Live runs that have not ended.
    public var activeRuns: [TrainingRun] { live.filter { !$0.snapshot().state.isTerminal } }

    /// Stops every live run and waits for their checkpoints.
    public func stopAll() {
        for r in live { r.stop() }
        for r in live { r.wait() }
    }

    public func handle(_ key: Key) {
        switch state.overlay {
        case .help:
            state.overlay = .none
            return
        case .confirmQuit:
            if key == .char("y") || key == .char("Y") { shouldQuit = true } else if key == .char("n") || key == .escape || key == .char("N") {
                state.overlay = .none
            }
            return
        case .launcher(var form):
            switch form.handle(key) {
            case .cancel: state.overlay = .none
            case .stay: state.overlay = .launcher(form)
            case .launch:
                switch form.resolve() {
                case .success(let exp):
                    state.overlay = .none
                    launch(exp)
                case .failure(let err):
                    form.error = err.description
                    state.overlay = .launcher(form)
                }
            }
            return
        case .none:
            break
        }
        let message = state.message
        state.message = ""
        switch key {
        case .up, .backTab: state.focus = max(0, state.focus - 1)
        case .down, .tab: state.focus = min(max(state.runs.count - 1, 0), state.focus + 1)
        case .char("?"), .char("h"): state.overlay = .help
        case .char("n"), .enter: state.overlay = .launcher(LauncherForm(directory: experimentsDirectory))
        case .char("q"), .char("Q"):
            let n = activeRuns.count
            if n == 0 { shouldQuit = true } else { state.overlay = .confirmQuit(live: n) }
        case .char("c"):
            if let id = state.focused?.id {
                if state.compared.contains(id) { state.compared.remove(id) } else { state.compared.insert(id) }
            }
        case .char("s"): state.smoothing = min(0.99, (state.smoothing * 100 + 10).rounded() / 100)
        case .char("S"): state.smoothing = max(0, (state.smoothing * 100 - 10).rounded() / 100)
        case .char("l"): state.logScale.toggle()
        case .char("a"): state.xByEpoch.toggle()
        case .char("r"):
            unreadable = [:]  // a fixed config.yaml is read again
            scanRunsDirectory()
            if !isReading, unreadable.isEmpty {
                state.message = "re-read \(state.runsDirectory): \(allDirectories.count) run director\(allDirectories.count == 1 ? "y" : "ies")"
            }
        case .char(" "), .char("g"), .char("e"), .char("E"), .char("x"):
            guard let run = focusedRun else {
                state.message = state.focused == nil ? "no run selected" : "\(state.focused!.snapshot.config.name) was read from disk; only runs launched here can be controlled"
                return
            }
            let snap = run.snapshot()
            guard !snap.state.isTerminal else { state.message = "\(snap.config.name) has \(snap.state.rawValue)"; return }
            switch key {
            case .char(" "):
                if snap.state == .paused { run.resumeTraining(); state.message = "resuming \(snap.config.name)" } else {
                    run.pause(); state.message = "pausing \(snap.config.name) after this step"
                }
            case .char("g"):
                if snap.config.placement.isCNN { state.message = "\(snap.config.name) is a CNN: it has no adder layers to flip"; return }
                run.toggleGradientMode()
                state.message = "flipping the gradient mode of \(snap.config.name)"
            case .char("e"), .char("E"):
                // Relative to η when the change takes effect: presses in a row compound.
                let factor = key == .char("e") ? 1.25 : 1 / 1.25
                run.scaleEta(by: factor)
                state.message = String(format: "η of %@ × %g (η must stay > 0 and at most %g)", snap.config.name, factor, ExperimentConfig.maximumEta)
            default:
                run.stop()
                state.message = "stopping \(snap.config.name) (checkpoint after this step)"
            }
        case .resize: state.message = message
        default: state.message = message
        }
    }
}
