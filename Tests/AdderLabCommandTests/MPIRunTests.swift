import Foundation
import Testing
import AdderTestSupport
import AdderTrain

/// `mpirun -np 2 adderlab run` with Open MPI (Debian's openmpi-bin, installed by `.ci/run`
/// and the README's set-up): one run, data-parallel over two ranks.
@Suite("adderlab run under Open MPI", .serialized, .timeLimit(.minutes(4)))
struct MPIRunTests {
    static let mpirun = ["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]

    /// `adderlab ARGS` on `ranks` ranks of mpirun.
    static func mpi(_ ranks: Int, _ args: [String]) throws -> Subprocess.Result {
        try Subprocess.run(["timeout", "200"] + mpirun + ["-np", "\(ranks)", Adderlab.binary] + args)
    }

    /// The only run directory under `runs`.
    static func onlyRun(_ runs: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: runs).filter { !$0.hasPrefix(".") }
        try #require(names.count == 1, "\(names)")
        return runs + "/" + names[0]
    }

    static func losses(_ run: String) throws -> [Int: Double] {
        Dictionary(try RunReader.read(directory: run).steps.map { ($0.step, $0.loss) }) { a, _ in a }
    }

    static func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-12) }

    @Test func openMPIIsInstalled() throws {
        let r = try Subprocess.run(["mpirun", "--version"])
        #expect(r.status == 0 && r.out.hasPrefix("mpirun (Open MPI) "), "install openmpi-bin (the README's set-up does): \(r.err)")
    }

    /// Two ranks with 32 images each against one process with the 64, on the smoke
    /// experiment (its first epoch, 100 steps): the same losses for the first 20 steps, within
    /// 1e-4 relative; one run directory, written by rank 0, whose log says the two ranks'
    /// weights are identical.
    @Test func twoRanksTrainWhatOneProcessTrains() throws {
        let together = tempDir(), alone = tempDir()
        let firstEpoch = ["--set", "testSamples=200", "--set", "epochs=1"]
        let job = try Self.mpi(2, ["run", Adderlab.experiments + "/smoke.yaml", "--runs-dir", together] + firstEpoch)
        #expect(job.status == 0, "\(job.out)\n\(job.err)")
        let single = try Adderlab.run(["run", Adderlab.experiments + "/smoke.yaml", "--runs-dir", alone, "--threads-per-run", "1"] + firstEpoch)
        #expect(single.status == 0, "\(single.err)")
        let run = try Self.onlyRun(together)
        #expect(job.out.split(separator: "\n").first.map(String.init) == "run smoke → \(run)")
        let a = try Self.losses(run), b = try Self.losses(try Self.onlyRun(alone))
        #expect(a.keys.sorted() == Array(1...100) && b.keys.sorted() == Array(1...100))
        let worst = (1...20).map { Self.relative(a[$0] ?? .nan, b[$0] ?? .nan) }.max() ?? .nan
        #expect(worst < 1e-4, "largest relative loss difference \(worst)")
        let history = try RunReader.read(directory: run)
        #expect(history.events.last?.detail == "finished")
        let log = try String(contentsOfFile: run + "/run.log", encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(log.contains("data-parallel over 2 ranks: each trains on 32 of every batch of 64, with batch norm synchronised; rank 0 writes this directory"))
        let summary = log.first { $0.hasPrefix("ranks: ") } ?? "none"
        #expect(summary.wholeMatch(of: /ranks: weights identical on all 2 ranks \(checksum [0-9a-f]{16}\); rank 0 spent \d+\.\d s of \d+\.\d s in collective calls \(\d+\.\d%\)/) != nil, "\(summary)")
    }

    /// The job is killed (-9, every rank) after a checkpoint; `mpirun -np 2 adderlab run
    /// --resume` continues it, and the steps after the checkpoint have the losses of a job
    /// that was never killed.
    @Test func aKilledJobResumes() throws {
        let args = ["run", Adderlab.experiments + "/smoke.yaml", "--set", "trainSamples=6400", "--set", "testSamples=200",
                    "--set", "epochs=2", "--set", "checkpointEvery=20"]
        let whole = tempDir(), killed = tempDir()
        let reference = try Self.mpi(2, args + ["--runs-dir", whole])
        #expect(reference.status == 0, "\(reference.err)")
        let job = try Subprocess(Self.mpirun + ["-np", "2", Adderlab.binary] + args + ["--runs-dir", killed])
        var run = ""
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: killed)) ?? []
            if names.count == 1, let last = (try? RunReader.read(directory: killed + "/" + names[0]))?.steps.last, last.step >= 45 {
                run = killed + "/" + names[0]
                break
            }
            usleep(50_000)
        }
        kill(job.pid, SIGKILL)
        // mpirun's ranks, whose command lines name this test's runs directory.
        _ = try Subprocess.run(["pkill", "-9", "-f", killed])
        _ = job.wait()
        try #require(!run.isEmpty, "the job did not reach step 45")
        let before = try RunReader.read(directory: run)
        #expect(before.events.last?.detail != "finished")
        let resumed = try Self.mpi(2, ["run", "--resume", run])
        #expect(resumed.status == 0, "\(resumed.out)\n\(resumed.err)")
        let after = try RunReader.read(directory: run)
        #expect(after.steps.map(\.step) == Array(1...200))
        let resume = after.events.first { $0.kind == .resumedFromCheckpoint }
        let from = resume?.step ?? -1
        #expect(from >= 40 && from % 20 == 0 && resume?.detail == "step \(from) of 200 from latest.safetensors", "\(String(describing: resume))")
        #expect(after.events.last?.detail == "finished")
        let a = try Self.losses(run), b = try Self.losses(try Self.onlyRun(whole))
        let worst = (from + 1...from + 20).map { Self.relative(a[$0] ?? .nan, b[$0] ?? .nan) }.max() ?? .nan
        #expect(worst < 1e-4, "largest relative loss difference after the resume \(worst)")
    }

    /// What mpirun cannot do is refused by name: a group of runs (one run trains over all
    /// ranks), the dashboard, and a batch that does not split among the ranks.
    @Test func refusals() throws {
        let group = try smokeGroup()
        let many = try Self.mpi(2, ["run", group, "--runs-dir", tempDir()] + small)
        #expect(many.status == 1)
        // mpirun's own lines about a rank's exit status may come before or after rank 0's.
        #expect(many.err.split(separator: "\n").contains(
                "error: under mpirun one run trains over all 2 ranks, and \(group) has 4 runs: pick one with --index K (`adderlab run \(group) --list` shows them)"), "\(many.err)")
        let runs = tempDir()
        let dashboard = try Self.mpi(2, ["dashboard", "--runs-dir", tempDir()])
        #expect(dashboard.status == 1 && dashboard.err.split(separator: "\n").contains(
                "error: the dashboard does not run under mpirun; `mpirun -np N adderlab run EXPERIMENT` trains one run over the ranks, and `adderlab dashboard --runs-dir DIR` in a shell watches it"), "\(dashboard.err)")
        let odd = try Self.mpi(3, ["run", Adderlab.experiments + "/smoke.yaml", "--runs-dir", runs] + small)
        #expect(odd.status == 1)
        let reason = "rank 0: smoke: a batch of 64 does not split into 3 equal shares: use a batch size divisible by 3"
        #expect(odd.out.split(separator: "\n").last.map(String.init) == "smoke: failed: \(reason)", "\(odd.out)\n\(odd.err)")
        #expect(try RunReader.read(directory: try Self.onlyRun(runs)).events.last?.detail == "failed: " + reason)
    }

    /// `bench train` over two ranks: rank 0 alone prints one record, for the whole batch,
    /// with the time in collective calls; a batch that does not split is refused by name.
    @Test func benchTrainOverRanks() throws {
        let r = try Self.mpi(2, ["bench", "train", "--model", "lenet5", "--variant", "fp", "--threads", "1", "--repeats", "2", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n")
        try #require(lines.count == 1, "\(r.out)")
        let record = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(record["model"] as? String == "lenet5" && record["batch"] as? Int == 64 && record["ranks"] as? Int == 2 && record["threads"] as? Int == 1)
        let variant = try #require((record["variants"] as? [[String: Any]])?.first)
        #expect(Set(variant.keys) == ["variant", "msPerStep", "msMin", "msMax", "imagesPerSecond", "peakResidentMiB", "collectiveMsPerStep", "gradientAllreduceMs"])
        let ms = variant["msPerStep"] as? Double ?? 0, rate = variant["imagesPerSecond"] as? Double ?? 0
        #expect(ms > 0 && abs(rate - 64 / (ms / 1000)) < 1e-6 * rate)
        #expect((variant["collectiveMsPerStep"] as? Double).map { $0 >= 0 && $0 < (variant["msMax"] as? Double ?? 0) } == true)
        #expect((variant["gradientAllreduceMs"] as? Double).map { $0 > 0 && $0 < 1000 } == true)
        let odd = try Self.mpi(2, ["bench", "train", "--model", "lenet5", "--batch", "63", "--variant", "fp", "--repeats", "1"])
        // mpirun adds its own lines about the exit status after rank 0's.
        #expect(odd.status == 1 && odd.err.split(separator: "\n").contains("error: --batch 63 does not split into 2 equal shares, one per rank: use a multiple of 2"), "\(odd.err)")
    }

    /// A failure during training on rank 0 (its checkpoint cannot be written) is recorded in
    /// the run and ends every rank of the job, with the reason on standard error.
    @Test func aFailureDuringTrainingEndsTheJob() throws {
        let runs = tempDir()
        let job = try Subprocess(["timeout", "120"] + Self.mpirun + ["-np", "2", Adderlab.binary, "run", Adderlab.experiments + "/smoke.yaml",
                                  "--runs-dir", runs, "--set", "testSamples=200", "--set", "checkpointEvery=40"])
        var run = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, run.isEmpty {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []
            if names.count == 1, let last = (try? RunReader.read(directory: runs + "/" + names[0]))?.steps.last, last.step >= 5, last.step < 30 {
                run = runs + "/" + names[0]
            }
            usleep(20_000)
        }
        try #require(!run.isEmpty, "the job did not reach step 5 in time")
        // checkpoints/ becomes a file: the checkpoint at step 40 cannot be written.
        try FileManager.default.removeItem(atPath: run + "/checkpoints")
        #expect(FileManager.default.createFile(atPath: run + "/checkpoints", contents: Data("in the way\n".utf8)))
        let end = job.wait()
        #expect(end.status != 0 && end.status != 124, "exit status \(end.status)")
        let history = try RunReader.read(directory: run)
        let last = history.events.last
        #expect(last?.step == 40 && last?.detail.hasPrefix("failed: checkpoint failed: ") == true, "\(String(describing: last))")
        let said = end.err.split(separator: "\n").first { $0.hasPrefix("adderlab: rank 0: smoke: ") }.map(String.init)
        #expect(said == "adderlab: rank 0: smoke: " + (last?.detail.dropFirst("failed: ".count)).map(String.init)!, "\(end.err)")
        #expect(history.steps.last?.step == 40)
    }
}
