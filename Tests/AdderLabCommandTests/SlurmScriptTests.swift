import Foundation
import Testing
import AdderTestSupport
import AdderTrain

/// The absolute path with every symbolic link resolved, as /proc/self/exe gives it.
func realPath(_ path: String) -> String {
    guard let p = realpath(path, nil) else { return path }
    defer { free(p) }
    return String(cString: p)
}

/// `adderlab slurm` without a cluster: the script it writes, checked whole, and run for
/// each array index as Slurm runs it (the fallback when no Slurm can start).
@Suite("adderlab slurm: the script", .timeLimit(.minutes(3)))
struct SlurmScriptTests {
    @Test func theScriptIsWrittenWhole() throws {
        let group = try smokeGroup(), runs = tempDir() + "/runs"
        let r = try Adderlab.run(["slurm", group, "--runs-dir", runs, "--partition", "debug,gpu", "--time", "1-2:30",
                                  "--cpus-per-task", "2", "--set", "epochs=1", "--set", "description=it's here"])
        #expect(r.status == 0 && r.err == "", "\(r.err)")
        #expect(r.out == """
            wrote \(runs)/smoke.sbatch: 4 runs of \(group) as array tasks 0-3, 2 CPUs each
            submit it with: sbatch '\(runs)/smoke.sbatch'

            """)
        let cwd = FileManager.default.currentDirectoryPath
        #expect(try String(contentsOfFile: runs + "/smoke.sbatch", encoding: .utf8) == """
            #!/bin/bash
            # Written by `adderlab slurm`: the 4 runs of experiment 'smoke' as a Slurm job array,
            # one run per array task; submit with sbatch, list the runs with `adderlab run EXPERIMENT --list`.
            #SBATCH --job-name=adderlab-smoke
            #SBATCH --array=0-3
            #SBATCH --ntasks=1
            #SBATCH --cpus-per-task=2
            #SBATCH --output=\(runs)/smoke-%A_%a.out
            #SBATCH --partition=debug,gpu
            #SBATCH --time=1-2:30
            set -eu
            cd '\(cwd)'
            exec '\(realPath(Adderlab.binary))' run '\(group)' --index "${SLURM_ARRAY_TASK_ID:?is not set: submit this script with sbatch}" \
            --runs-dir '\(runs)' --threads-per-run 2 --set 'epochs=1' --set 'description=it'\\''s here'

            """)
        #expect(FileManager.default.isExecutableFile(atPath: runs + "/smoke.sbatch"))
        // A relative experiment and runs directory are made absolute; one run is array 0-0.
        let here = tempDir()
        try FileManager.default.copyItem(atPath: Adderlab.experiments + "/smoke.yaml", toPath: here + "/one.yaml")
        let p = try Subprocess(["/bin/sh", "-c", "cd '\(here)' && exec '\(Adderlab.binary)' slurm ./one.yaml --runs-dir sub/../r"])
        let one = p.wait()
        #expect(one.out == "wrote \(here)/r/smoke.sbatch: 1 run of \(here)/one.yaml as array tasks 0-0, 1 CPU each\nsubmit it with: sbatch '\(here)/r/smoke.sbatch'\n", "\(one.err)")
        let text = try String(contentsOfFile: here + "/r/smoke.sbatch", encoding: .utf8).split(separator: "\n")
        #expect(text.filter { $0.hasPrefix("#SBATCH --array") || $0.hasPrefix("cd ") } == ["#SBATCH --array=0-0", "cd '\(here)'"])
    }

    /// Each array task as Slurm starts it (its environment, the script run by bash, four at
    /// once): four run directories, every run finished, `compare` sees them all. The
    /// experiment's path holds a space, quotes and a '$': the script quotes it.
    @Test func everyArrayTaskRunAsSlurmWould() throws {
        let dir = tempDir() + "/it's a \"sweep\" $HOME"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let group = try smokeGroup(dir), runs = tempDir()
        let w = try Adderlab.run(["slurm", group, "--runs-dir", runs, "--cpus-per-task", "1"] + small)
        #expect(w.status == 0, "\(w.err)")
        let script = runs + "/smoke.sbatch"
        let tasks = try (0..<4).map { k in
            try Subprocess(["/bin/bash", script], stdout: .path("\(runs)/smoke-77_\(k).out"), mergeErrors: true, environment: [
                "SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "\(k)", "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "3", "SLURM_JOB_ID": "\(78 + k)", "SLURM_CPUS_PER_TASK": "1",
            ])
        }
        #expect(tasks.map { $0.wait().status } == [0, 0, 0, 0])
        let names = ["smoke-fullPrecision-s1", "smoke-fullPrecision-s2", "smoke-sign-s1", "smoke-sign-s2"]
        for (k, name) in names.enumerated() {
            let out = try String(contentsOfFile: "\(runs)/smoke-77_\(k).out", encoding: .utf8).split(separator: "\n")
            #expect(out.first.map(String.init) == "run \(k) of 4 in \(group): \(name)")
        }
        try expectFinished(runs: runs, names: names)
        // Outside Slurm the script says what is missing.
        let bare = try Subprocess.run(["/bin/bash", script], environment: ["SLURM_ARRAY_TASK_ID": ""])
        #expect(bare.status == 1)
        #expect(bare.err == "\(script): line 11: SLURM_ARRAY_TASK_ID: is not set: submit this script with sbatch\n")
    }

    /// Bad options are refused naming the flag, the value and what is expected; nothing is written.
    @Test func badOptionsAreRefused() throws {
        let group = try smokeGroup(), runs = tempDir()
        func firstErrorLine(_ args: [String]) throws -> (Int32, String) {
            let r = try Adderlab.run(["slurm", group] + args)
            return (r.status, String(r.err.split(separator: "\n", omittingEmptySubsequences: false)[0]))
        }
        let forms = "the forms are M, M:S, H:M:S, D-H, D-H:M or D-H:M:S (e.g. 30, 2:00:00, 1-12), or UNLIMITED"
        #expect(try firstErrorLine(["--runs-dir", runs, "--time", "2h"]) == (64, "Error: --time '2h' is not a Slurm time limit: \(forms)"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--time", "-5"]) == (64, "Error: --time '-5' is not a Slurm time limit: \(forms)"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--time", "1:2:3:4"]) == (64, "Error: --time '1:2:3:4' is not a Slurm time limit: \(forms)"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--time", "1:60"]) == (64, "Error: --time '1:60': minutes and seconds must be below 60"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--time", "1-24"]) == (64, "Error: --time '1-24': hours after the day must be below 24"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--cpus-per-task", "0"]) == (64, "Error: --cpus-per-task must be from 1 to 256, got 0"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--cpus-per-task", "257"]) == (64, "Error: --cpus-per-task must be from 1 to 256, got 257"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--partition", "a b"])
            == (64, "Error: --partition 'a b' is not a partition name: letters, digits, '_', '-' and '.' (several partitions joined by commas)"))
        #expect(try firstErrorLine(["--runs-dir", runs, "--partition", "debug,"])
            == (64, "Error: --partition 'debug,' is not a partition name: letters, digits, '_', '-' and '.' (several partitions joined by commas)"))
        #expect(try firstErrorLine(["--runs-dir", runs + "/a b"])
            == (64, "Error: --runs-dir '\(runs)/a b' holds a space, which an #SBATCH --output line cannot carry; choose a runs directory without white space, quotes, '%', '#' or '\\'"))
        #expect(try firstErrorLine(["--runs-dir", runs + "/100%"])
            == (64, "Error: --runs-dir '\(runs)/100%' holds '%', which an #SBATCH --output line cannot carry; choose a runs directory without white space, quotes, '%', '#' or '\\'"))
        let badSet = try Adderlab.run(["slurm", group, "--runs-dir", runs, "--set", "epochs=0"])
        #expect(badSet.status == 1 && badSet.err == "error: --set epochs=0: epochs: 0 is too small; it must be at least 1\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).isEmpty)
        // Every Slurm form is taken.
        for t in ["30", "0", "5:30", "2:00:00", "1-12", "1-12:30", "7-0:0:0", "UNLIMITED", "infinite"] {
            let r = try Adderlab.run(["slurm", group, "--runs-dir", runs, "--time", t])
            #expect(r.status == 0, "\(t): \(r.err)")
        }
    }

    /// --submit where there is no sbatch: the reason, after the script was written.
    @Test func submitWithoutSlurmSaysSo() throws {
        let group = try smokeGroup(), runs = tempDir()
        let r = try Subprocess.run([Adderlab.binary, "slurm", group, "--runs-dir", runs, "--submit"], environment: ["PATH": tempDir()])
        #expect(r.status == 1)
        #expect(r.out == "wrote \(runs)/smoke.sbatch: 4 runs of \(group) as array tasks 0-3, 1 CPU each\n")
        #expect(r.err == "error: cannot run sbatch: it is not in PATH (is Slurm installed here?)\n")
    }
}

/// Every run of `names` has one directory in `runs`, finished, and `adderlab compare` lists
/// them all, finished.
func expectFinished(runs: String, names: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let dirs = RunReader.runDirectories(in: runs)
    let read = try dirs.map { try RunReader.read(directory: $0) }
    #expect(read.map(\.config.name).sorted() == names, sourceLocation: sourceLocation)
    #expect(read.map(\.state) == Array(repeating: .finished, count: names.count), sourceLocation: sourceLocation)
    let c = try Adderlab.run(["compare", runs, "--csv"])
    #expect(c.status == 0 && c.err == "", "\(c.err)", sourceLocation: sourceLocation)
    let lines = c.out.split(separator: "\n").map(String.init)
    #expect(lines.first == "run,gradient.filter,seed,state,best acc,final acc,final loss,time,img/s", sourceLocation: sourceLocation)
    // Each row whole but its numbers, which depend on the machine's speed.
    #expect(lines.dropFirst().map { $0.split(separator: ",").prefix(4).joined(separator: ",") }.sorted()
            == ["smoke-fullPrecision-s1,fullPrecision,1,finished", "smoke-fullPrecision-s2,fullPrecision,2,finished",
                "smoke-sign-s1,sign,1,finished", "smoke-sign-s2,sign,2,finished"], sourceLocation: sourceLocation)
}
