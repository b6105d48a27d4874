import Foundation
import Testing
import AdderTestSupport
import AdderTrain

/// The `adderlab` binary built next to this test bundle, run as a user runs it.
enum Adderlab {
    static var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("adderlab").path
    }

    /// The repository's experiments.
    static var experiments: String { "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/experiments" }

    static func start(_ args: [String]) throws -> Subprocess { try Subprocess([binary] + args) }

    static func run(_ args: [String], stdout: Subprocess.Output = .capture) throws -> Subprocess.Result {
        try Subprocess.run([binary] + args, stdout: stdout)
    }
}

func tempDir() -> String { temporaryDirectory("command") }

let small = ["--set", "trainSamples=320", "--set", "testSamples=100", "--set", "epochs=1"]

@Suite("The adderlab command", .timeLimit(.minutes(3)))
struct CommandTests {
    @Test func binaryIsBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Adderlab.binary), "build adderlab first: \(Adderlab.binary)")
    }

    /// A full standard output or a closed pipe does not end the run: it trains to the end.
    @Test func runSurvivesAFullOrClosedStandardOutput() throws {
        for closed in [false, true] {
            let runs = tempDir()
            let r = try Adderlab.run(["run", Adderlab.experiments + "/smoke.yaml", "--runs-dir", runs] + small, stdout: closed ? .closedPipe : .path("/dev/full"))
            #expect(r.status == 0, "\(r.err)")
            let dirs = RunReader.runDirectories(in: runs)
            #expect(dirs.count == 1)
            #expect(try dirs.map { try RunReader.read(directory: $0).state } == [.finished])
        }
    }

    /// One writer per run directory, with a real lock between real processes.
    @Test func aRunDirectoryHasOneWriter() throws {
        let runs = tempDir()
        #expect(try Adderlab.run(["run", Adderlab.experiments + "/smoke.yaml", "--runs-dir", runs] + small).status == 0)
        let dir = RunReader.runDirectories(in: runs)[0]
        var lock: RunLock? = try RunLock(directory: dir)
        let refused = try Adderlab.run(["run", "--resume", dir])
        #expect(refused.status == 1)
        let holder = RunLock.holder(of: dir)!
        #expect(holder.pid == getpid())
        #expect(refused.err == "error: \(dir) is being written by another process (\(holder)); wait for it to end or stop it first\n")
        // In-process too, and once the lock is released the resume goes ahead.
        #expect(throws: RunLock.busy(dir, holder: holder)) { _ = try TrainingRun(resuming: dir) }
        #expect(lock != nil)
        lock = nil
        #expect(RunLock.holder(of: dir) == nil)
        // Unlocked, the resume goes ahead — and finds a finished run, which it leaves as it is.
        let resumed = try Adderlab.run(["run", "--resume", dir])
        let why = "\(dir) finished all 5 steps; there is nothing to resume"
        #expect(resumed.status == 1 && resumed.out == "run smoke → \(dir)\nsmoke step 5: failed: \(why)\nsmoke: failed: \(why)\n")
        #expect(try RunReader.read(directory: dir).state == .finished)
    }

    /// Eight processes started at once get eight run directories, each with one run.
    @Test func runDirectoriesAreNotSharedBetweenProcesses() throws {
        let runs = tempDir()
        let started = try (0..<8).map { _ in try Adderlab.start(["run", Adderlab.experiments + "/smoke.yaml", "--runs-dir", runs, "--threads-per-run", "1"] + small) }
        let results = started.map { $0.wait() }
        #expect(results.map(\.status) == Array(repeating: 0, count: 8), "\(results.map(\.err))")
        let dirs = RunReader.runDirectories(in: runs)
        #expect(dirs.count == 8)
        for d in dirs {
            let s = try RunReader.read(directory: d)
            #expect(s.steps.map(\.step) == Array(1...5) && s.events.filter { $0.kind == .state }.map(\.detail) == ["running", "finished"])
        }
    }

    /// Text from files reaches the terminal with its control characters made visible.
    @Test func terminalEscapesInFilesAreShownNotObeyed() throws {
        let dir = tempDir()
        try "name: evil\ndescription: \"a\\e]0;T\\ab\\u202eR\"\n".write(toFile: dir + "/e.yaml", atomically: true, encoding: .utf8)
        let r = try Adderlab.run(["list", "--dir", dir])
        #expect(r.status == 0)
        #expect(r.out == """
            experiment  runs   model/data        description
            ----------  -----  ----------------  -----------
            e.yaml      1 run  lenet5/synthetic  a\\u{1B}]0;T\\u{7}b\\u{202E}R\u{20}

            """)
    }

    /// A broken run directory is named; the others are still compared.
    @Test func compareSkipsABrokenRunAndSaysWhy() throws {
        let runs = tempDir()
        #expect(try Adderlab.run(["run", Adderlab.experiments + "/smoke.yaml", "--runs-dir", runs] + small).status == 0)
        try FileManager.default.createDirectory(atPath: runs + "/broken", withIntermediateDirectories: true)
        try "name: broken\nepochs: [1\n".write(toFile: runs + "/broken/config.yaml", atomically: true, encoding: .utf8)
        let r = try Adderlab.run(["compare", runs, "--csv"])
        #expect(r.status == 0)
        #expect(r.err.hasPrefix("warning: skipped \(runs)/broken: \(runs)/broken/config.yaml:3: is not valid YAML: "), "\(r.err)")
        #expect(r.out.split(separator: "\n").count == 2 && r.out.hasPrefix("run,state,best acc,final acc,final loss,time,img/s\nsmoke,finished,"))
    }

    /// A group's run directories are made as its runs start: stopped during the first
    /// `--parallel` runs, a three-run group leaves that many directories, all stopped.
    @Test(arguments: [1, 2])
    func groupRunsGetTheirDirectoriesWhenTheyStart(parallel: Int) throws {
        let runs = tempDir()
        let group = tempDir() + "/g.yaml"
        try (try String(contentsOfFile: Adderlab.experiments + "/smoke.yaml", encoding: .utf8)
             + "group:\n  seeds: [1, 2, 3]\n").write(toFile: group, atomically: true, encoding: .utf8)
        let p = try Adderlab.start(["run", group, "--runs-dir", runs, "--set", "trainSamples=6400", "--set", "epochs=5",
                                    "--parallel", "\(parallel)", "--threads-per-run", "1"])
        let end = Date().addingTimeInterval(30)
        func started() -> Int { RunReader.runDirectories(in: runs).filter { (try? RunReader.read(directory: $0).steps.isEmpty) == false }.count }
        while started() < parallel && Date() < end { usleep(10_000) }
        kill(p.pid, SIGTERM)
        let r = p.wait()
        #expect(r.status == 1)
        let dirs = RunReader.runDirectories(in: runs)
        #expect(dirs.map { String(($0 as NSString).lastPathComponent.prefix(9)) } == Array(["smoke-s1-", "smoke-s2-"].prefix(parallel)))
        #expect(try dirs.map { try RunReader.read(directory: $0).state } == Array(repeating: .stopped, count: parallel))
    }
}
