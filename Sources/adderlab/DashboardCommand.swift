import AdderCore
import AdderData
import AdderTrain
import AdderTUI
import ArgumentParser
import Dispatch
import Foundation
import Synchronization

/// `adderlab` / `adderlab dashboard`: the ncurses dashboard.
struct DashboardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "The live dashboard: launch experiments, watch them train, flip gradient modes, compare runs."
    )

    @Option(name: .long, help: "The runs directory to show and to write new runs into.")
    var runsDir = "runs"

    @Option(name: .long, help: "Where the launcher finds experiments.")
    var experimentsDir = Experiment.defaultDirectory

    @Flag(name: .long, help: "Do not launch the quickstart experiment when the runs directory is empty.")
    var noQuickstart = false

    @OptionGroup var queueOptions: QueueOptions

    func run() throws {
        // Started by mpirun, each rank would draw over the others in one terminal.
        if ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil {
            let rank = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_RANK"] ?? "") ?? 0
            throw rank == 0 ? failure("error: the dashboard does not run under mpirun; `mpirun -np N adderlab run EXPERIMENT` trains one run over the ranks, and `adderlab dashboard --runs-dir DIR` in a shell watches it") : ExitCode(1)
        }
        guard isatty(STDIN_FILENO) == 1, isatty(STDOUT_FILENO) == 1 else {
            throw failure("error: the dashboard needs a terminal; use `adderlab run` for headless training")
        }
        // A terminal without cursor addressing cannot show the dashboard: say so, draw nothing.
        let term = ProcessInfo.processInfo.environment["TERM"] ?? ""
        guard !term.isEmpty, term != "dumb", term != "unknown" else {
            throw failure("error: the dashboard needs a terminal with cursor addressing (TERM is '\(term)'); set TERM (e.g. xterm-256color) or use `adderlab run` for headless training")
        }
        // A signal leaves the loop below: live runs are stopped with checkpoints, the terminal restored.
        let signals = SignalStopper(exitOnSecond: false) {}
        let screen = NCursesScreen()
        defer { screen.close(); signals.cancel() }
        let dashboard = Dashboard(runsDirectory: runsDir, experimentsDirectory: experimentsDir, unicode: screen.unicode, color: screen.color, color256: screen.color256,
                                  parallel: queueOptions.parallel, threadsPerRun: queueOptions.threadsPerRun)
        if !noQuickstart && dashboard.state.runs.isEmpty { launchQuickstart(dashboard) }
        // Wait for a key up to 100 ms, apply it (and any typed meanwhile), refresh, and redraw
        // when the state or the terminal's size changed: up to ~10 frames a second, none
        // while nothing happens.
        var drawn: (version: Int, width: Int, height: Int)?
        while !dashboard.shouldQuit && !signals.fired {
            if let key = screen.readKey() {
                dashboard.handle(key)
                while let more = screen.readKey(timeoutZero: true) { dashboard.handle(more) }
            }
            dashboard.refresh()
            let (w, h) = screen.size
            if let d = drawn, d == (dashboard.version, w, h) { continue }
            screen.draw(DashboardView.render(dashboard.state, width: w, height: h))
            drawn = (dashboard.version, w, h)
        }
        if !dashboard.activeRuns.isEmpty {
            let (w, h) = screen.size
            dashboard.setMessage("stopping \(dashboard.activeRuns.count) run(s), writing checkpoints…")
            screen.draw(DashboardView.render(dashboard.state, width: w, height: h))
            dashboard.stopAll()
        }
    }

    /// First start: the quickstart comparison, on Fashion-MNIST when the Debian package
    /// is installed and on the synthetic set (saying so) when it is not.
    func launchQuickstart(_ d: Dashboard) {
        let path = Experiment.resolve("quickstart", in: experimentsDir)
        guard FileManager.default.fileExists(atPath: path) else { return }
        var overrides: [String] = []
        var note = ""
        if (try? Experiment.load(path: path))?.runs.first?.dataset == .fashionMNIST,
           !Datasets.fashionMNISTInstalled {
            overrides = ["dataset=synthetic"]
            note = "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist): quickstart runs on the synthetic set. "
        }
        do {
            d.launch(try Experiment.load(path: path, overrides: overrides))
            d.setMessage(note + "First start: launched quickstart. Press ? for keys.")
        } catch {
            d.setMessage("quickstart: \(error)")
        }
    }
}
