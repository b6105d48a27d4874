import Foundation
import Testing
import AdderTestSupport
import AdderTrain

/// `adderlab slurm --submit` on a real Slurm: the single-node cluster of
/// `scripts/slurm-single-node.sh` (started by `.ci/run`, or here when it is not up). When
/// Slurm cannot start, the test fails with the reason.
@Suite("adderlab slurm on a real Slurm cluster", .serialized, .timeLimit(.minutes(3)))
struct SlurmClusterTests {
    static var script: String { (Adderlab.experiments as NSString).deletingLastPathComponent + "/scripts/slurm-single-node.sh" }

    /// Nil when the node answers idle (or busy), else why not.
    static func nodeProblem() -> String? {
        guard let r = try? Subprocess.run(["timeout", "20", "sinfo", "--noheader", "--format=%T"]) else { return "cannot run sinfo (is slurm-wlm installed?)" }
        let state = r.out.trimmingCharacters(in: .whitespacesAndNewlines)
        if r.status == 0, ["idle", "mixed", "allocated", "completing"].contains(state) { return nil }
        return "sinfo: exit status \(r.status), node state '\(state)' \(r.err.trimmingCharacters(in: .whitespacesAndNewlines))"
    }

    /// Makes sure the cluster is up (the script only checks one it finds running): true
    /// when this test started it.
    static func startCluster() throws -> Bool {
        // The script's own waits are bounded (60 s for the node); `timeout` bounds the rest.
        let r = try Subprocess.run(["timeout", "150", "/bin/bash", script, "start"], mergeErrors: true)
        try #require(r.status == 0, "Slurm could not start: \(script) start exited with \(r.status):\n\(r.out)")
        return !r.out.hasPrefix("slurm-single-node: already up: ")
    }

    /// The job's array tasks and their states ("5_0 COMPLETED"), sorted; nil when squeue fails.
    static func tasks(of job: String) -> [String]? {
        guard let r = try? Subprocess.run(["timeout", "20", "squeue", "--noheader", "--jobs", job, "--states=all", "--format=%i %T"]), r.status == 0 else { return nil }
        return r.out.split(separator: "\n").map(String.init).sorted()
    }

    @Test func aGroupRunsAsAJobArray() throws {
        let startedHere = try Self.startCluster()
        defer { if startedHere { _ = try? Subprocess.run(["timeout", "30", "/bin/bash", Self.script, "stop"]) } }
        let group = try smokeGroup(), runs = tempDir()
        let begin = Date()
        let submitted = try Adderlab.run(["slurm", group, "--runs-dir", runs, "--cpus-per-task", "1", "--submit"] + small)
        #expect(submitted.status == 0 && submitted.err == "", "\(submitted.err)")
        let lines = submitted.out.split(separator: "\n").map(String.init)
        try #require(lines.count == 2, "\(submitted.out)")
        #expect(lines[0] == "wrote \(runs)/smoke.sbatch: 4 runs of \(group) as array tasks 0-3, 1 CPU each")
        let job = String(lines[1].dropFirst("submitted job ".count).prefix { $0.isNumber })
        #expect(!job.isEmpty && lines[1] == "submitted job \(job); watch it with: squeue -j \(job), or adderlab dashboard --runs-dir '\(runs)'")

        // Bounded wait: every task ended (a finished task stays listed for MinJobAge, 300 s).
        let ended = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "BOOT_FAIL", "DEADLINE"]
        var last: [String]? = nil
        let deadline = Date().addingTimeInterval(90)
        while Date() < deadline {
            last = Self.tasks(of: job)
            if let t = last, t.count == 4, t.allSatisfy({ ended.contains(String($0.split(separator: " ").last ?? "")) }) { break }
            usleep(200_000)
        }
        let seconds = Date().timeIntervalSince(begin)
        #expect(last == (0..<4).map { "\(job)_\($0) COMPLETED" }, "after \(Int(seconds)) s: \(last ?? ["squeue failed"]) — \(Self.nodeProblem() ?? "node up")")

        let names = ["smoke-fullPrecision-s1", "smoke-fullPrecision-s2", "smoke-sign-s1", "smoke-sign-s2"]
        for (k, name) in names.enumerated() {
            let out = (try? String(contentsOfFile: "\(runs)/smoke-\(job)_\(k).out", encoding: .utf8)) ?? ""
            let l = out.split(separator: "\n").map(String.init)
            #expect(l.first == "run \(k) of 4 in \(group): \(name)" && l.last == "\(name) step 5: finished", "\(out)")
        }
        try expectFinished(runs: runs, names: names)
    }
}
