import AdderCore
import AdderData
import AdderTrain
import Foundation

/// The dashboard's controller: owns the live runs, reads past runs from the runs
/// directory, turns keys into actions and keeps `state` current. It runs on the UI
/// thread only; the runs train on their own queues and are reached through their
/// thread-safe controls and snapshots.
public final class Dashboard {
    public private(set) var state = DashboardState() { didSet { version &+= 1 } }
    /// Changes whenever `state` does: the screen is drawn again only then (or on a resize).
    public private(set) var version = 0
    /// What the runs list showed last time, to leave `state` alone when nothing changed.
    private var lastSignature: [RunSignature] = []
    /// The list of runs is not made again before this time (see `refresh`).
    private var nextRebuild = Date.distantPast
    /// Time between two makings of the list, in multiples of what the last one took.
    static let rebuildSpacing = 50.0
    public let experimentsDirectory: String
    /// The runs launched or resumed here: waiting, training and ended.
    public let queue: RunQueue
    /// Set when the user has confirmed quitting.
    public private(set) var shouldQuit = false
    private var lastScan = Date.distantPast

    /// `parallel` and `threadsPerRun` as for `adderlab run` (nil: the defaults, see `RunQueue`).
    public init(runsDirectory: String, experimentsDirectory: String, unicode: Bool, color: Bool, color256: Bool = false,
                parallel: Int? = nil, threadsPerRun: Int? = nil) {
        self.experimentsDirectory = experimentsDirectory
        queue = RunQueue(runsDirectory: runsDirectory, limit: parallel ?? RunQueue.defaultLimit, threadsPerRun: threadsPerRun)
        state.runsDirectory = runsDirectory
        state.unicode = unicode
        state.color = color
        state.color256 = color256
        scanRunsDirectory()
    }

    /// The runs started here, newest start of each run directory only (a resumed run
    /// replaces the run it continues).
    public var live: [TrainingRun] {
        let started = queue.contents().started
        var seen = Set<String>()
        return started.reversed().filter { seen.insert(Dashboard.id(of: $0)).inserted }.reversed()
    }

    static func id(of run: TrainingRun) -> String { run.directory ?? run.config.name }
    static func queueId(_ id: Int) -> String { "queue:\(id)" }
    /// Runs whose failure was already told in the status line.
    private var toldFailures = Set<String>()

    /// A run directory read from disk: its configuration, its metrics file and its
    /// histograms file, each followed from the last offset read (a growing file is never
    /// read twice).
    private struct PastRun {
        var config: ExperimentConfig
        var metrics: MetricsFile
        var histograms: MetricsFile
        var entry: RunEntry
    }
    private var pastRuns: [String: PastRun] = [:] { didSet { pastChanged = true } }
    /// Set when anything read from disk changed since the runs list was last made.
    private var pastChanged = true
    /// Run directories that could not be read, with the reason (shown, never hidden).
    public private(set) var unreadable: [String: String] = [:]
    /// True while run directories found on disk are still being read.
    public var isReading: Bool { !pending.isEmpty }
    /// Whether the end of the first reading of the runs directory has been said.
    private var toldRead = false

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
        let liveDirs = Set(queue.contents().started.compactMap(\.directory))
        let dirs = RunReader.runDirectories(in: state.runsDirectory).filter { !liveDirs.contains($0) }
        let present = Set(dirs)
        for gone in Set(pastRuns.keys).subtracting(present) { pastRuns[gone] = nil }
        for gone in Set(unreadable.keys).subtracting(present) { unreadable[gone] = nil }
        for dir in dirs {
            guard var known = pastRuns[dir] else { continue }
            // A run shown as training elsewhere is looked at again: its holder may be gone.
            let changedMetrics = known.metrics.update(chunk: Dashboard.chunk)
            let changedHistograms = known.histograms.update(chunk: Dashboard.chunk)
            let changed = changedMetrics || changedHistograms
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
    private var allDirectories: [String] = [] { didSet { pastChanged = true } }

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
                              histograms: MetricsFile(path: RunFiles(dir).histograms),
                              entry: RunEntry(id: dir, snapshot: RunSnapshot(config: config), live: false))
            run.metrics.update(chunk: Dashboard.chunk)
            run.histograms.update(chunk: Dashboard.chunk)
            run.entry = entry(dir, run)
            pastRuns[dir] = run
        }
        if newProblems > 0, let first = unreadable.keys.sorted().first {
            let n = unreadable.count
            state.message = "\(n) run director\(n == 1 ? "y" : "ies") could not be read: \(unreadable[first]!)"
        } else if !pending.isEmpty {
            state.message = "reading run directories: \(pastRuns.count + unreadable.count) of \(allDirectories.count)…"
        } else if !toldRead, state.message.isEmpty || state.message.hasPrefix("reading run directories") {
            // Said once when the first reading ends, however many frames it took.
            state.message = "read \(allDirectories.count) run director\(allDirectories.count == 1 ? "y" : "ies")"
        }
        if pending.isEmpty { toldRead = true }
    }

    private func entry(_ dir: String, _ run: PastRun) -> RunEntry {
        RunEntry(id: dir, snapshot: RunReader.snapshot(config: run.config, directory: dir, history: run.metrics.history,
                                                       histograms: run.histograms.history), live: false)
    }

    /// Reads the next chunk of the metrics files not read to their end yet.
    private func continueReading() {
        for (dir, var run) in pastRuns where run.metrics.hasUnread || run.histograms.hasUnread {
            if run.metrics.hasUnread { run.metrics.update(chunk: Dashboard.chunk) }
            if run.histograms.hasUnread { run.histograms.update(chunk: Dashboard.chunk) }
            run.entry = entry(dir, run)
            pastRuns[dir] = run
        }
    }

    /// Takes fresh snapshots of the live runs (and re-reads the directory every few seconds).
    public func refresh() {
        if state.featureView != nil { readFeatures() }
        if Date().timeIntervalSince(lastScan) > 5 { scanRunsDirectory(); return }
        readPending()
        continueReading()
        queue.rebalance()
        let contents = queue.contents()
        // Nothing trained here and nothing new on disk: the list stays as it is.
        if !pastChanged && contents.started.isEmpty && contents.waiting.isEmpty && contents.rejected.isEmpty && !lastSignature.isEmpty { return }
        // With thousands of runs listed, making the list again is not free: for records of the
        // runs training here it is made at most as often as keeps it (and the drawing after
        // it) to a few percent of a core. What was read from disk is shown at once.
        let started = Date()
        if !pastChanged && started < nextRebuild { return }
        defer { nextRebuild = Date().addingTimeInterval(Date().timeIntervalSince(started) * Dashboard.rebuildSpacing) }
        pastChanged = false
        let live = self.live
        // A queued entry that has started is the same row under its new id.
        var renamed: [String: String] = [:]
        for (run, qid) in zip(contents.started, contents.startedIds) { renamed[Dashboard.queueId(qid)] = Dashboard.id(of: run) }
        let focusedId = state.focusedRow.map { renamed[$0.id] ?? $0.id }
        // Runs read from disk (in name order), then the ones trained here, those waiting and
        // those that could not start; a run directory being resumed here is shown once.
        let resuming = Set(contents.waiting.compactMap { w -> String? in if case .resume(let dir) = w.work { return dir } else { return nil } })
        let liveRows = live.filter { !resuming.contains($0.directory ?? "") }.map { RunEntry(id: Dashboard.id(of: $0), snapshot: $0.snapshot(), live: true) }
        var waitingRows: [RunEntry] = []
        for (i, w) in contents.waiting.enumerated() {
            guard var snap = snapshot(of: w.work) else { continue }
            snap.state = .queued
            waitingRows.append(RunEntry(id: Dashboard.queueId(w.id), snapshot: snap, live: true, queuePosition: i + 1))
        }
        let rejectedRows = contents.rejected.compactMap { r -> RunEntry? in
            guard var snap = snapshot(of: r.work) else { return nil }
            snap.state = .failed
            snap.message = r.reason
            return RunEntry(id: Dashboard.queueId(r.id), snapshot: snap, live: true)
        }
        let shown = Set(liveRows.map(\.id)).union(contents.waiting.compactMap { w in
            if case .resume(let dir) = w.work { return dir } else { return nil }
        })
        let past = allDirectories.filter { !shown.contains($0) }.compactMap { pastRuns[$0]?.entry }
        let runs = past + liveRows + waitingRows + rejectedRows
        // Nothing new (no record, no state change): the state, and so the screen, stay as they are.
        let signature = runs.map(RunSignature.init)
        guard signature != lastSignature || !renamed.isEmpty && state.compared.contains(where: { renamed[$0] != nil }) else { return }
        lastSignature = signature
        state.compared = Set(state.compared.map { renamed[$0] ?? $0 })
        state.runs = runs
        if let focusedId { state.focus(on: focusedId) }
        state.focus = min(max(state.focus, 0), max(state.rows.count - 1, 0))
        // Colour slots are given once the runs on disk are read, in one order (by identity),
        // so the same runs get the same colours whatever order the directory was read in.
        if !isReading { state.assignColors() }
        // A run launched here that failed says why, once.
        for e in liveRows + rejectedRows where e.snapshot.state == .failed && !toldFailures.contains(e.id) {
            toldFailures.insert(e.id)
            state.message = "\(e.snapshot.config.name) failed: \(e.snapshot.message)"
        }
    }

    /// The features.jsonl of each run the feature view shows, followed as it grows.
    private var featureFiles: [String: FeaturesFile] = [:]

    /// Reads what was appended to the feature files of the runs the feature view shows
    /// (a stat per run when nothing was); `state` changes only when something did.
    private func readFeatures() {
        for e in FeatureSpacePanel.entries(state) where e.snapshot.directory != nil || !e.live {
            let dir = e.snapshot.directory ?? e.id
            var file = featureFiles[dir] ?? FeaturesFile(path: RunFiles(dir).features)
            let changed = file.update()
            featureFiles[dir] = file
            if changed || state.features[e.id] == nil {
                let read = RunFeatures(records: file.records, problems: file.problems)
                if state.features[e.id] != read { state.features[e.id] = read }
            }
        }
    }

    /// What a queue entry will run, for its row: a new run's configuration, or the run
    /// directory's snapshot as last read.
    private func snapshot(of work: RunQueue.Work) -> RunSnapshot? {
        switch work {
        case .new(let config): return RunSnapshot(config: config)
        case .resume(let dir): return pastRuns[dir]?.entry.snapshot ?? live.first { $0.directory == dir }?.snapshot()
        }
    }

    /// Queues every run of `experiment` (at most `queue.limit` train at once), compares
    /// them, and focuses the first. Refused, saying where it looked, when a dataset the
    /// runs need is not there.
    public func launch(_ experiment: Experiment) {
        if let problem = Dashboard.launchProblem(experiment) {
            state.message = "cannot launch \(experiment.name): \(problem)"
            return
        }
        let ids = queue.enqueue(experiment.runs.map { .new($0) }).map(Dashboard.queueId)
        nextRebuild = .distantPast
        let n = ids.count, waiting = queue.contents().waiting.count
        // Said first: a run that fails at once says so in the refresh below, after this.
        state.message = "launched \(experiment.name): \(n) run\(n == 1 ? "" : "s")"
            + (waiting > 0 ? ", \(queue.limit) at a time (\(waiting) queued; + / - change how many)" : "")
        refresh()
        if let first = ids.first.map({ id in (Dashboard.renamed(id, queue) ?? id) }) { state.focus(on: first) }
        // A few runs are compared at once; a larger group is better read grouped (C compares its groups).
        if ids.count > 1 && ids.count <= 6 { state.compared = Set(ids.map { Dashboard.renamed($0, queue) ?? $0 }) }
    }

    /// The id a started queue entry now has.
    private static func renamed(_ queueId: String, _ queue: RunQueue) -> String? {
        let c = queue.contents()
        return zip(c.started, c.startedIds).first { Dashboard.queueId($0.1) == queueId }.map { id(of: $0.0) }
    }

    /// Why the runs of `experiment` cannot train — a dataset that is not there (saying where
    /// it looked), or a batch larger than the training set — or nil.
    public static func launchProblem(_ experiment: Experiment) -> String? {
        var checked = Set<String>()
        for c in experiment.runs where checked.insert("\(c.dataset.rawValue)|\(c.dataDir ?? "")").inserted {
            do { _ = try Datasets.locate(c.dataset, directory: c.dataDir) } catch { return error.description }
        }
        if let c = experiment.runs.first(where: { $0.batchProblem != nil }) { return "\(c.name): \(c.batchProblem!)" }
        return nil
    }

    public func setMessage(_ m: String) { state.message = m }

    private var focusedRun: TrainingRun? {
        guard let e = state.focused, e.live else { return nil }
        return live.first { Dashboard.id(of: $0) == e.id }
    }

    /// The queue id of the focused row when it is waiting.
    private var focusedWaiting: Int? {
        guard let e = state.focused, e.snapshot.state == .queued else { return nil }
        return queue.contents().waiting.first { Dashboard.queueId($0.id) == e.id }?.id
    }

    /// Live runs that have not ended.
    public var activeRuns: [TrainingRun] { live.filter { !$0.snapshot().state.isTerminal } }

    /// Empties the queue, stops every live run and waits for their checkpoints.
    public func stopAll() {
        queue.cancelAll()
        for r in live { r.stop() }
        for r in live { r.wait() }
    }

    /// Queues the focused run to continue from its last complete checkpoint, as
    /// `adderlab run --resume` does: a stopped, interrupted or failed run launched here or
    /// read from disk, that no process holds.
    private func resumeFocused() {
        guard let e = state.focused else { state.message = "no run selected"; return }
        let name = e.snapshot.config.name
        guard let dir = e.snapshot.directory ?? (e.id.hasPrefix("queue:") ? nil : e.id), !e.id.hasPrefix("queue:") else {
            state.message = "\(name) has no run directory to resume"
            return
        }
        switch e.snapshot.state {
        case .stopped, .interrupted, .failed: break
        case .finished: state.message = "\(name) finished all its steps; there is nothing to resume"; return
        default: state.message = "\(name) is \(e.snapshot.state.rawValue); only stopped, interrupted or failed runs resume"; return
        }
        if let holder = RunLock.holder(of: dir) {
            state.message = "\(name) is being trained by \(holder.description); it cannot be resumed here"
            return
        }
        let qid = Dashboard.queueId(queue.enqueue([.resume(directory: dir)], atFront: true)[0])
        refresh()
        let id = Dashboard.renamed(qid, queue) ?? qid
        state.focus(on: id)
        state.message = id == qid ? "\(name) will resume from its last checkpoint when a slot is free (queued first)"
                                  : "resuming \(name) from its last checkpoint"
    }

    /// Writes what the charts show (series, colours, bands, axes, legend) as two SVG files
    /// under `<runs>/figures/`, and says where.
    private func exportCharts() {
        let data = ChartData(state: state, glyphs: Glyphs(unicode: true), legendWidth: 200, samples: 720)
        guard !data.loss.series.isEmpty else { state.message = "nothing to export: no run or group is shown in the charts"; return }
        let dir = (state.runsDirectory as NSString).appendingPathComponent("figures")
        let f = DateFormatter()
        f.dateFormat = "yyyyMMdd-HHmmss"
        f.locale = Locale(identifier: "en_US_POSIX")
        let base = (dir as NSString).appendingPathComponent("charts-" + f.string(from: Date()))
        let (loss, accuracy) = data.svg()
        do {
            if mkdir(dir, 0o755) != 0 && errno != EEXIST { throw FileFailure.posix("mkdir", dir) }
            try AtomicFile.write(Data(loss.utf8), to: URL(fileURLWithPath: base + "-loss.svg"))
            try AtomicFile.write(Data(accuracy.utf8), to: URL(fileURLWithPath: base + "-accuracy.svg"))
            let n = data.loss.series.count
            state.message = "wrote \(base)-loss.svg and -accuracy.svg (\(n) series)"
        } catch {
            state.message = "cannot export the charts: \(error)"
        }
    }

    /// Keys while the filter is typed: text, Backspace, Enter to keep it, Esc to clear it.
    private func editFilter(_ key: Key) {
        switch key {
        case .enter: state.editingFilter = false
        case .escape: state.editingFilter = false; state.filter = ""
        case .backspace: if !state.filter.isEmpty { state.filter.removeLast() }
        case .char(let c) where state.filter.count < 200: state.filter.append(c)
        default: break
        }
        state.focus = min(state.focus, max(state.rows.count - 1, 0))
        state.message = state.editingFilter ? "filter: /\(state.filter)" + (state.rowModel.filterProblem.map { " (\($0))" } ?? "") + "  (Enter keeps it, Esc clears)"
                                            : (state.filter.isEmpty ? "filter cleared" : "filter /\(state.filter): \(state.rowModel.shownRuns) of \(state.runs.count) runs")
    }

    public func handle(_ key: Key) {
        // What a key changes is shown at once: the next refresh is not held back.
        nextRebuild = .distantPast
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
                    // A missing dataset is said in the form, which stays open to change it.
                    if let problem = Dashboard.launchProblem(exp) {
                        form.error = "cannot launch: " + problem
                        state.overlay = .launcher(form)
                        return
                    }
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
        if state.editingFilter { editFilter(key); return }
        let message = state.message
        state.message = ""
        switch key {
        case .up, .backTab, .down, .tab:
            let up = key == .up || key == .backTab
            state.focus = up ? max(0, state.focus - 1) : min(max(state.rows.count - 1, 0), state.focus + 1)
            // A run with something to say (why it failed, which process trains it) says it on focus.
            if let e = state.focused, !e.snapshot.message.isEmpty {
                state.message = "\(e.snapshot.config.name) \(e.snapshot.state.rawValue): \(e.snapshot.message)"
            }
        case .char("R"): resumeFocused()
        case .char("+"), .char("-"):
            queue.limit += key == .char("+") ? 1 : -1
            let t = queue.threadsPerRun
            state.message = "at most \(queue.limit) run\(queue.limit == 1 ? "" : "s") at once, \(t) thread\(t == 1 ? "" : "s") each (for runs that start from now)"
        case .char("["), .char("]"):
            guard let id = focusedWaiting else { state.message = "only queued runs move in the queue"; return }
            queue.move(id, by: key == .char("[") ? -1 : 1)
            refresh()
            state.focus(on: Dashboard.queueId(id))
        case .char("?"), .char("h"): state.overlay = .help
        case .enter where state.focusedGroup != nil:
            let g = state.focusedGroup!
            if g.expanded { state.expanded.remove(g.id) } else { state.expanded.insert(g.id) }
            state.focus(on: g.id)
        case .enter where state.focused != nil:
            // On a run of an open group: close the group; on a run alone, say what Enter does.
            let id = state.focused!.id
            if case .run(_, true)? = state.focusedRow, let g = state.rowModel.grouping.groups.first(where: { $0.indices.contains { state.runs[$0].id == id } }) {
                state.expanded.remove(g.identity)
                state.focus(on: g.identity)
            } else {
                state.message = "Enter opens and closes groups; n opens the launcher"
            }
        case .char("n"), .enter: state.overlay = .launcher(LauncherForm(directory: experimentsDirectory))
        case .char("t"):
            // The focus stays on the same run, or on a group's first run (or the group holding the run).
            let id = state.focusedGroup?.entries.first?.id ?? state.focusedRow?.id
            state.grouped.toggle()
            if let id { state.focus(on: id) }
            state.message = state.grouped ? "grouped: runs that differ only in seed are one row (Enter opens a group)" : "flat list: every run on its own row"
        case .char("o"):
            let id = state.focusedRow?.id
            state.sort = state.sort.next
            if let id { state.focus(on: id) }
            state.message = state.sort == .listed ? "sorted as listed" : "sorted by \(state.sort.rawValue)"
        case .char("/"):
            state.editingFilter = true
            state.message = "filter: /\(state.filter)  (a regular expression; Enter keeps it, Esc clears)"
        case .escape where !state.filter.isEmpty:
            state.filter = ""
            state.message = "filter cleared"
        case .char("p"): exportCharts()
        case .char("T"):
            state.summary.toggle()
            state.message = state.summary ? "summary of the compared groups (all groups when none is compared); b on a group sets the baseline" : ""
        case .char("b"):
            guard let g = state.focusedGroup else { state.message = "b sets the focused group as the baseline of the summary (T)"; return }
            state.baseline = state.baseline == g.id ? nil : g.id
            state.message = state.baseline == nil ? "no baseline" : "baseline: \(g.group.label)"
        case .escape where state.summary:
            state.summary = false
        case .escape where state.cursor != nil:
            state.cursor = nil
        case .char("B"):
            state.batchStatisticsCurves.toggle()
            state.message = state.batchStatisticsCurves
                ? "test accuracy with batch statistics drawn too (its own glyph); where it parts from the running one, batch norm lags: B hides it"
                : "test accuracy with running statistics only"
        case .char("W"):
            state.distributionView = state.distributionView == nil ? DistributionViewSettings() : nil
            state.message = state.distributionView == nil ? "" : "weight distributions: v weights or outputs, ← → layer; c compares runs side by side"
        case .escape where state.distributionView != nil:
            state.distributionView = nil
        case .char("v") where state.distributionView != nil:
            state.distributionView!.outputs.toggle()
            state.message = state.distributionView!.outputs ? "the layer's outputs on the recorded step's batch" : "the layer's filter weights"
        case .left where state.distributionView != nil, .right where state.distributionView != nil:
            let names = DistributionPanel.layers(state)
            guard !names.isEmpty else { state.message = "no histograms recorded for the runs shown"; return }
            let i = state.distributionView!.layer.flatMap { names.firstIndex(of: $0) } ?? 0
            let next = names[(i + (key == .right ? 1 : -1) + names.count) % names.count]
            state.distributionView!.layer = next
            state.message = "layer \(next) (\(names.firstIndex(of: next)! + 1) of \(names.count))"
        case .char("F"):
            state.featureView = state.featureView == nil ? FeatureViewSettings() : nil
            if state.featureView != nil { readFeatures() }
            state.message = state.featureView == nil ? "" : "feature space: ← → step through the evaluations (the latest is followed); C: two side by side"
        case .escape where state.featureView != nil:
            state.featureView = nil
        case .left where state.featureView != nil, .right where state.featureView != nil:
            let entry = FeatureSpacePanel.entries(state).first
            let steps = entry.flatMap { state.features[$0.id] }?.records.map(\.step) ?? []
            guard !steps.isEmpty else { state.message = "no feature records to step through"; return }
            let current = FeatureSpacePanel.record(state.features[entry!.id]!.records, at: state.featureView!.step)!.index
            let next = min(max(current + (key == .right ? 1 : -1), 0), steps.count - 1)
            state.featureView!.step = next == steps.count - 1 ? nil : steps[next]
            state.message = "evaluation \(next + 1) of \(steps.count), step \(steps[next])" + (next == steps.count - 1 ? " (the latest, followed)" : "")
        case .char("L"):
            state.layerView = state.layerView == nil ? LayerViewSettings() : nil
            state.message = state.layerView == nil ? "" : "layer view: v changes the quantity, m switches to one layer across the compared runs"
        case .escape where state.layerView != nil:
            state.layerView = nil
        case .char("v") where state.layerView != nil:
            state.layerView!.quantity = state.layerView!.quantity.next
            state.message = "layer view: \(state.layerView!.quantity.rawValue)"
        case .char("m") where state.layerView != nil:
            state.layerView!.acrossRuns.toggle()
            state.message = state.layerView!.acrossRuns ? "one layer across the compared runs and groups (← → choose the layer)" : "every layer of the focused run"
        case .left where state.layerView?.acrossRuns == true, .right where state.layerView?.acrossRuns == true:
            let names = LayerHistoryPanel.layers(state, state.layerView!)
            guard !names.isEmpty else { state.message = "no layer statistics yet"; return }
            let i = state.layerView!.layer.flatMap { names.firstIndex(of: $0) } ?? 0
            let next = names[(i + (key == .right ? 1 : -1) + names.count) % names.count]
            state.layerView!.layer = next
            state.message = "layer \(next)"
        case .left, .right:
            // The charts' cursor: in steps of 1/40 of the x range, starting in the middle.
            let step = key == .right ? 0.025 : -0.025
            state.cursor = state.cursor.map { min(1, max(0, $0 + step)) } ?? 0.5
            state.message = "cursor: the legends show each series' value there (Esc hides it)"
        case .char("C"):
            // Every group shown (and every run not in a group); again to clear.
            let all = Set(state.rows.compactMap { row -> String? in
                switch row {
                case .group(let g): return g.id
                case .run(let e, let inGroup): return inGroup ? nil : e.id
                }
            })
            if !all.isEmpty && state.compared == all {
                state.compared = []
                state.message = "comparison cleared: the charts follow the focus"
            } else {
                state.compared = all
                let groups = all.filter { $0.hasPrefix("group:") }.count, runs = all.count - groups
                state.message = "comparing " + [groups > 0 ? "\(groups) group\(groups == 1 ? "" : "s")" : "", runs > 0 ? "\(runs) run\(runs == 1 ? "" : "s")" : ""]
                    .filter { !$0.isEmpty }.joined(separator: " and ") + " (C again clears)"
            }
        case .char("q"), .char("Q"):
            let n = activeRuns.count
            if n == 0 { shouldQuit = true } else { state.overlay = .confirmQuit(live: n) }
        case .char("c"):
            if let id = state.focusedRow?.id {
                if state.compared.contains(id) { state.compared.remove(id) } else { state.compared.insert(id) }
            }
        case .char("s"): state.smoothing = min(0.99, (state.smoothing * 100 + 10).rounded() / 100)
        case .char("S"): state.smoothing = max(0, (state.smoothing * 100 - 10).rounded() / 100)
        case .char("l"): state.logScale.toggle()
        case .char("a"):
            state.xAxis = state.xAxis.next
            state.message = "x axis: " + (state.xAxis == .time ? "seconds of training, pauses left out" : "by \(state.xAxis.rawValue)")
        case .char("r"):
            unreadable = [:]  // a fixed config.yaml is read again
            scanRunsDirectory()
            if !isReading, unreadable.isEmpty {
                let n = RunReader.runDirectories(in: state.runsDirectory).count
                state.message = "re-read \(state.runsDirectory): \(n) run director\(n == 1 ? "y" : "ies")"
            }
        case .char(" ") where focusedWaiting != nil, .char("x") where focusedWaiting != nil:
            let id = focusedWaiting!, name = state.focused!.snapshot.config.name
            if key == .char("x") {
                queue.cancel(id)
                state.message = "removed \(name) from the queue"
            } else {
                queue.startNow(id)
                state.message = "starting \(name) now, beyond the limit of \(queue.limit)"
            }
            refresh()
        case .char(" "), .char("g"), .char("e"), .char("E"), .char("x"):
            let run = focusedRun
            // A run another process trains (a CLI run, a Slurm task, an MPI job) takes controls
            // through its directory's controls file.
            let remote = run == nil ? state.focused.flatMap { e -> String? in
                guard !e.snapshot.state.isTerminal, let dir = e.snapshot.directory, RunLock.holder(of: dir) != nil else { return nil }
                return dir
            } : nil
            guard let snap = run?.snapshot() ?? (remote != nil ? state.focused?.snapshot : nil) else {
                if let e = state.focused, e.snapshot.state.isTerminal {
                    state.message = "\(e.snapshot.config.name) has \(e.snapshot.state.rawValue)" + (e.snapshot.state == .finished ? "" : " (R resumes it)")
                } else {
                    state.message = state.focused == nil ? "select a run (Enter opens a group)" : "\(state.focused!.snapshot.config.name) is not training: nothing to control"
                }
                return
            }
            guard !snap.state.isTerminal else { state.message = "\(snap.config.name) has \(snap.state.rawValue)"; return }
            let name = snap.config.name
            let command: RemoteCommand
            switch key {
            case .char(" "):
                command = snap.state == .paused ? .resume : .pause
                state.message = snap.state == .paused ? "resuming \(name)" : "pausing \(name) after this step"
            case .char("g"):
                if snap.config.placement.isCNN { state.message = "\(name) is a CNN: it has no adder layers to flip"; return }
                command = .toggleGradient
                state.message = "flipping the gradient mode of \(name)"
            case .char("e"), .char("E"):
                guard !snap.config.placement.isCNN, snap.config.strategy == .adaptive else {
                    state.message = "η acts only in the adaptive learning rate of an AdderNet; \(name) " + (snap.config.placement.isCNN ? "is a CNN" : "uses the \(snap.config.strategy.rawValue) strategy")
                    return
                }
                // Relative to η when the change takes effect: presses in a row compound.
                let factor = key == .char("e") ? 1.25 : 1 / 1.25
                command = .scaleEta(factor)
                state.message = String(format: "η of %@ × %g (η must stay > 0 and at most %g)", name, factor, ExperimentConfig.maximumEta)
            default:
                command = .stop
                state.message = "stopping \(name) (checkpoint after this step)"
            }
            if let run {
                switch command {
                case .pause: run.pause()
                case .resume: run.resumeTraining()
                case .toggleGradient: run.toggleGradientMode()
                case .scaleEta(let f): run.scaleEta(by: f)
                case .stop: run.stop()
                }
            } else if let remote {
                do {
                    try RunControl.send(command, to: remote)
                    state.message += " (sent to the process training it)"
                } catch {
                    state.message = "cannot send '\(command.line)' to \(name): \(error)"
                }
            }
        case .resize: state.message = message
        default: state.message = message
        }
    }
}

/// What of a run the screen shows changes only with these: compared frame to frame.
struct RunSignature: Equatable {
    let id: String, state: RunState, step: Int, steps: Int, evals: Int, layers: Int, events: Int
    let message: String, queuePosition: Int?, live: Bool, gradientMode: GradientMode, eta: Double
    let histogramStep: Int?, histogramProblem: String?

    init(_ e: RunEntry) {
        let s = e.snapshot
        id = e.id; state = s.state; step = s.step; steps = s.steps.count; evals = s.evals.count; layers = s.layers.count
        events = s.events.count; message = s.message; queuePosition = e.queuePosition; live = e.live
        gradientMode = s.gradientMode; eta = s.eta
        histogramStep = s.histograms?.step; histogramProblem = s.histogramProblem
    }
}
