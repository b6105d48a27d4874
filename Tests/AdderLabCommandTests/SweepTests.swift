import Foundation
import Testing
import AdderTestSupport
import AdderTrain

/// A four-run group of the smoke experiment (filter gradient × two seeds), in a new directory.
func smokeGroup(_ dir: String = tempDir()) throws -> String {
    let file = dir + "/g4.yaml"
    try (try String(contentsOfFile: Adderlab.experiments + "/smoke.yaml", encoding: .utf8)
         + "group:\n  grid:\n    gradient.filter: [fullPrecision, sign]\n  seeds: [1, 2]\n").write(toFile: file, atomically: true, encoding: .utf8)
    return file
}

/// `adderlab run GROUP --list` and `--index K`: one run of a group per process, as an array job runs it.
@Suite("adderlab run --list and --index", .timeLimit(.minutes(3)))
struct SweepTests {
    @Test func listShowsEveryRunWithItsIndexAndLabel() throws {
        let group = try smokeGroup()
        let r = try Adderlab.run(["run", group, "--list"])
        #expect(r.status == 0 && r.err == "", "\(r.err)")
        #expect(r.out == """
            index  label             run
            -----  ----------------  ----------------------
            0      fullPrecision-s1  smoke-fullPrecision-s1
            1      fullPrecision-s2  smoke-fullPrecision-s2
            2      sign-s1           smoke-sign-s1
            3      sign-s2           smoke-sign-s2

            """)
        // --index with --list lists that run only; a single run has index 0 and no label.
        #expect(try Adderlab.run(["run", group, "--list", "--index", "2"]).out == """
            index  label    run
            -----  -------  -------------
            2      sign-s1  smoke-sign-s1

            """)
        #expect(try Adderlab.run(["run", Adderlab.experiments + "/smoke.yaml", "--list"]).out == """
            index  label  run
            -----  -----  -----
            0      -      smoke

            """)
        // --set applies before listing (a bad value is refused as in training).
        let bad = try Adderlab.run(["run", group, "--list", "--set", "epochs=0"])
        #expect(bad.status == 1 && bad.out == "")
        #expect(bad.err == "error: --set epochs=0: epochs: 0 is too small; it must be at least 1\n")
    }

    @Test func listOfTheGradientAblation() throws {
        let r = try Adderlab.run(["run", Adderlab.experiments + "/gradient-ablation.yaml", "--list"])
        #expect(r.status == 0)
        var variants = ["cnn"]
        for f in ["fullPrecision", "sign"] { for l in ["adaptive", "fixed", "scaled"] { variants.append(f + "-" + l) } }
        var rows: [String] = []
        for v in variants {
            for seed in 1...3 {
                let label = "\(v)-s\(seed)"
                let index = "\(rows.count)".padding(toLength: 5, withPad: " ", startingAt: 0)
                rows.append(index + "  " + label.padding(toLength: 25, withPad: " ", startingAt: 0) + "  gradient-ablation-" + label)
            }
        }
        #expect(r.out == (["index  label                      run", "-----  -------------------------  -------------------------------------------"] + rows)
            .joined(separator: "\n") + "\n")
        #expect(rows.count == 21 && rows[20] == "20     sign-scaled-s3             gradient-ablation-sign-scaled-s3")
    }

    /// `--index K` trains the K-th run only, in its own directory.
    @Test func indexTrainsOnlyThatRun() throws {
        let group = try smokeGroup(), runs = tempDir()
        let r = try Adderlab.run(["run", group, "--index", "2", "--runs-dir", runs, "--threads-per-run", "1"] + small)
        #expect(r.status == 0, "\(r.err)")
        let dirs = RunReader.runDirectories(in: runs)
        #expect(dirs.count == 1)
        let dir = try #require(dirs.first)
        #expect((dir as NSString).lastPathComponent.hasPrefix("smoke-sign-s1-"))
        // Every line whole, but the evaluation's numbers.
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 5 && lines.indices.filter { $0 != 3 }.map { lines[$0] } == [
            "run 2 of 4 in \(group): smoke-sign-s1",
            "run smoke-sign-s1 → \(dir)",
            "smoke-sign-s1 step 0: running",
            "smoke-sign-s1 step 5: finished",
        ], "\(r.out)")
        #expect(lines.count == 5 && lines[3].hasPrefix("smoke-sign-s1 eval step 5 epoch 1.00: test accuracy "), "\(r.out)")
        let s = try RunReader.read(directory: dir)
        #expect(s.state == .finished && s.config.name == "smoke-sign-s1" && s.config.seed == 1 && s.config.filterGradient == .sign)
    }

    /// Bad values and combinations are refused before anything is made, naming the flag.
    @Test func badIndexesAndCombinationsAreRefused() throws {
        let group = try smokeGroup(), runs = tempDir()
        func firstErrorLine(_ args: [String]) throws -> (Int32, String) {
            let r = try Adderlab.run(["run"] + args)
            return (r.status, String(r.err.split(separator: "\n", omittingEmptySubsequences: false)[0]))
        }
        let out = try Adderlab.run(["run", group, "--index", "4", "--runs-dir", runs])
        #expect(out.status == 1 && out.out == "")
        #expect(out.err == "error: --index 4 is out of range: \(group) has 4 runs; its runs have indexes 0 to 3\n")
        let one = try Adderlab.run(["run", Adderlab.experiments + "/smoke.yaml", "--index", "1", "--runs-dir", runs])
        #expect(one.err == "error: --index 1 is out of range: \(Adderlab.experiments)/smoke.yaml has 1 run; its one run has index 0\n")
        let notIndex = "is not a run index: it must be a whole number from 0 (`adderlab run EXPERIMENT --list` shows the runs)"
        #expect(try firstErrorLine([group, "--index", "-1"]) == (64, "Error: --index '-1' \(notIndex)"))
        #expect(try firstErrorLine([group, "--index", ""]) == (64, "Error: --index '' \(notIndex)"))
        #expect(try firstErrorLine([group, "--index", "two"]) == (64, "Error: --index 'two' \(notIndex)"))
        #expect(try firstErrorLine([group, "--index", "99999999999999999999"]) == (64, "Error: --index '99999999999999999999' \(notIndex)"))
        #expect(try firstErrorLine(["--resume", runs, "--list"]) == (64, "Error: --list shows the runs of an experiment file; it does not go with --resume"))
        #expect(try firstErrorLine(["--resume", runs, "--index", "0"])
            == (64, "Error: --index picks a run of an experiment file; it does not go with --resume, which continues one run directory"))
        #expect(try firstErrorLine([group, "--list", "--runs-dir", runs]) == (64, "Error: --list only prints the runs and trains nothing; --runs-dir is for training"))
        #expect(try firstErrorLine([group, "--list", "--parallel", "2"]) == (64, "Error: --list only prints the runs and trains nothing; --parallel is for training"))
        #expect(try firstErrorLine([group, "--list", "--threads-per-run", "1"])
            == (64, "Error: --list only prints the runs and trains nothing; --threads-per-run is for training"))
        #expect(try firstErrorLine([group, "--index", "1", "--parallel", "2"]) == (64, "Error: --index trains one run; --parallel is for training a whole group"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).isEmpty)
    }

    /// The same run started by six processes at once (an array task submitted twice, a
    /// requeue): six directories, each with one finished run — mkdir decides, never a check first.
    @Test func theSameIndexFromManyProcessesGetsADirectoryEach() throws {
        let group = try smokeGroup(), runs = tempDir()
        let started = try (0..<6).map { _ in try Adderlab.start(["run", group, "--index", "1", "--runs-dir", runs, "--threads-per-run", "1"] + small) }
        let results = started.map { $0.wait() }
        #expect(results.map(\.status) == Array(repeating: 0, count: 6), "\(results.map(\.err))")
        let dirs = RunReader.runDirectories(in: runs)
        #expect(dirs.count == 6)
        #expect(Set(results.map { $0.out.split(separator: "\n")[1] }).count == 6)
        for d in dirs {
            #expect((d as NSString).lastPathComponent.hasPrefix("smoke-fullPrecision-s2-"))
            #expect(try RunReader.read(directory: d).state == .finished)
        }
    }
}
