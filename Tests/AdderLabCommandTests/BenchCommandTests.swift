import Foundation
import Testing
import AdderTestSupport

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
}
