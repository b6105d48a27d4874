import Foundation
import Testing
import AdderTestSupport
@testable import adderlab
import AdderCore

/// `adderlab bench train --breakdown` and `adderlab bench epoch`, run as a user runs them.
@Suite("adderlab bench", .timeLimit(.minutes(3)))
struct BenchCommandTests {
    static let parts = ["adder forward", "adder input gradient", "adder filter gradient", "GEMM", "batch norm", "im2col/col2im",
                        "elementwise", "optimizer"]
    static let adderParts: Set<String> = ["adder forward", "adder input gradient", "adder filter gradient"]

    /// Each variant's breakdown names every part and "other"; the CNN's adder parts are
    /// zero and every other part of every variant took time; the parts add up to the mean
    /// step, "other" (what no part covers) being under 15% of it.
    @Test func breakdownJSON() throws {
        let r = try Adderlab.run(["bench", "train", "--model", "lenet5", "--threads", "1", "--repeats", "3", "--breakdown", "--json"])
        #expect(r.status == 0, "\(r.err)")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        let variants = try #require(root["variants"] as? [[String: Any]])
        #expect(variants.map { $0["variant"] as? String } == ["cnn", "adder fp/hardTanh", "adder sign/sign"])
        for v in variants {
            let name = v["variant"] as? String ?? "?"
            let b = try #require(v["breakdownMs"] as? [String: Double], "\(v)")
            let step = try #require(v["meanMsPerStep"] as? Double)
            #expect(Set(b.keys) == Set(Self.parts + ["other"]), "\(name)")
            let zero = Set(Self.parts.filter { b[$0] == 0 })
            #expect(zero == (name == "cnn" ? Self.adderParts : []), "\(name): \(b)")
            let sum = Self.parts.reduce(0) { $0 + b[$1]! }
            #expect(abs(sum + b["other"]! - step) <= 1e-6 * step, "\(name): \(b) against \(step) ms")
            #expect(b["other"]! >= -1e-6 && b["other"]! <= 0.15 * step, "\(name): \(b) against \(step) ms")
        }
    }

    /// The table: one row per part, then other and step; every step cell is 100%.
    @Test func breakdownTable() throws {
        let r = try Adderlab.run(["bench", "train", "--model", "lenet5", "--threads", "1", "--repeats", "2", "--breakdown", "--variant", "fp"])
        #expect(r.status == 0, "\(r.err)")
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try #require(lines.firstIndex(of: "ms per step by part, mean of the 2 timed steps (share of the mean step)"), "\(r.out)")
        let rows = Array(lines[(start + 2)...].prefix(12))
        #expect(rows.first?.split(separator: " ").map(String.init) == ["part", "adder", "fp/hardTanh"])
        let labels = rows.dropFirst(2).map { $0.split(separator: " ").dropLast(2).joined(separator: " ") }
        #expect(labels == Self.parts + ["other", "step"], "\(rows)")
        #expect(rows[11].hasSuffix("(100.0%)"), "\(rows[11])")
    }

    /// `bench epoch` on a tiny run: one step of each workload in a temporary run directory.
    /// The rates are the images over the times it reports, the parts of the run fit in its
    /// wall time, and the run directory is gone afterwards.
    @Test func epochJSON() throws {
        let fashion = FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
        let workloads = fashion ? ["fashion-lenet5", "cifar-resnet20"] : ["cifar-resnet20"]
        let before = Self.benchDirectories()
        for w in workloads {
            let r = try Adderlab.run(["bench", "epoch", "--workload", w, "--train-samples", "128", "--test-samples", "20", "--step-repeats", "1",
                                      "--threads", "2", "--json"])
            #expect(r.status == 0, "\(r.err)")
            let items = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
            #expect(items.count == 1)
            let v = try #require(items.first)
            #expect(v["workload"] as? String == w && v["variant"] as? String == "fp" && v["threads"] as? Int == 2)
            #expect(v["openblasCore"] as? String == Self.expectedCore(), "\(v)")
            // 128 images: two batches of 64 or one of 128 (a partial batch is dropped).
            #expect(v["images"] as? Int == 128, "\(v)")
            let seconds = try #require(v["seconds"] as? Double), steps = try #require(v["stepSeconds"] as? Double)
            let startup = try #require(v["startupSeconds"] as? Double), evaluation = try #require(v["evaluationSeconds"] as? Double)
            #expect(abs(try #require(v["epochImagesPerSecond"] as? Double) - 128 / seconds) <= 1e-9 * 128 / seconds)
            #expect(abs(try #require(v["stepImagesPerSecond"] as? Double) - 128 / steps) <= 1e-9 * 128 / steps)
            #expect(steps > 0 && startup > 0 && evaluation > 0 && steps + startup + evaluation <= seconds, "\(v)")
            #expect(try #require(v["benchStepImagesPerSecond"] as? Double) > 0)
            let accuracy = try #require(v["testAccuracy"] as? Double)
            #expect(accuracy >= 0 && accuracy <= 1)
        }
        #expect(Self.benchDirectories() == before)
    }

    /// Bad options are refused with the option's name and range.
    @Test func epochOptions() throws {
        func firstErrorLine(_ args: [String]) throws -> (Int32, String) {
            let r = try Adderlab.run(["bench", "epoch"] + args)
            return (r.status, String(r.err.split(separator: "\n", omittingEmptySubsequences: false)[0]))
        }
        #expect(try firstErrorLine(["--epochs", "0"]) == (64, "Error: --epochs must be from 1 to 100, got 0"))
        #expect(try firstErrorLine(["--epochs", "101"]) == (64, "Error: --epochs must be from 1 to 100, got 101"))
        #expect(try firstErrorLine(["--train-samples", "100"])
                == (64, "Error: --train-samples must be from 128 (one batch of every workload) to 10000000, got 100"))
        #expect(try firstErrorLine(["--workload", "fashion-lenet5", "--train-samples", "63"])
                == (64, "Error: --train-samples must be from 64 (one batch of fashion-lenet5) to 10000000, got 63"))
        #expect(try firstErrorLine(["--test-samples", "0"]) == (64, "Error: --test-samples must be from 1 to 10000000, got 0"))
        #expect(try firstErrorLine(["--step-repeats", "0"]) == (64, "Error: --step-repeats must be from 1 to 1000, got 0"))
        #expect(try firstErrorLine(["--threads", "0"]) == (64, "Error: --threads must be from 1 to 256, got 0"))
        #expect(try firstErrorLine(["--workload", "mnist"])
                == (64, "Error: The value 'mnist' is invalid for '--workload <workload>'. Please provide one of 'fashion-lenet5' and 'cifar-resnet20'."))
    }

    /// The OpenBLAS core a child process reports: the environment's, else anything but the Prescott fallback.
    static func expectedCore() -> String? {
        ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? (BLAS.coreName == "Prescott" ? OpenBLASKernels.core(cpuFlags: OpenBLASKernels.cpuFlags()) : BLAS.coreName)
    }

    static func benchDirectories() -> Set<String> {
        let tmp = FileManager.default.temporaryDirectory.path
        return Set(((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).filter { $0.hasPrefix("adderlab-bench-epoch-") })
    }

    /// OpenBLAS's kernels: a core the environment names is used as named (Prescott included);
    /// with none named, never the Prescott fallback (the command runs itself again with
    /// Haswell's when OpenBLAS fell back to it).
    @Test func openBLASCore() throws {
        func core(_ argvPrefix: [String], _ environment: [String: String]) throws -> String? {
            let r = try Subprocess.run(argvPrefix + [Adderlab.binary, "bench", "train", "--repeats", "1", "--variant", "cnn", "--json"],
                                       environment: environment)
            #expect(r.status == 0, "\(r.err)")
            return (try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])?["openblasCore"] as? String
        }
        #expect(try core([], ["OPENBLAS_CORETYPE": "SkylakeX"]) == "SkylakeX")
        #expect(try core([], ["OPENBLAS_CORETYPE": "Prescott"]) == "Prescott")
        let chosen = try core(["/usr/bin/env", "-u", "OPENBLAS_CORETYPE"], [:])
        #expect(chosen != nil && chosen != "Prescott", "\(chosen ?? "no core")")
    }

    /// The core chosen for OpenBLAS's Prescott fallback: SkylakeX with the five AVX-512 flags, Haswell otherwise.
    @Test func coreForCPUFlags() {
        let avx2: Set<Substring> = ["sse4_2", "avx", "avx2", "fma"]
        let avx512 = avx2.union(["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])
        #expect(OpenBLASKernels.core(cpuFlags: avx512) == "SkylakeX")
        #expect(OpenBLASKernels.core(cpuFlags: avx2) == "Haswell")
        #expect(OpenBLASKernels.core(cpuFlags: avx512.subtracting(["avx512vl"])) == "Haswell")
        #expect(OpenBLASKernels.core(cpuFlags: []) == "Haswell")
    }
}
