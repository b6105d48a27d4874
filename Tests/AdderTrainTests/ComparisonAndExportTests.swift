import Foundation
import Testing
@testable import AdderTrain

@Suite("Compare and export")
struct ComparisonTests {
    func snapshot(_ yaml: String, finalAccuracy: Double) -> RunSnapshot {
        var s = RunSnapshot(config: try! Experiment.parse(yaml: yaml).runs[0])
        s.state = .finished
        s.evals = [EvalRecord(step: 10, epoch: 1, testLoss: 0.5, testAccuracy: finalAccuracy - 0.01, testAccuracyBatchStatistics: 0,
                              trainAccuracy: 0, time: 1, drift: []),
                   EvalRecord(step: 20, epoch: 2, testLoss: 0.4, testAccuracy: finalAccuracy, testAccuracyBatchStatistics: 0,
                              trainAccuracy: 0, time: 2, drift: [])]
        s.steps = [StepRecord(step: 20, epoch: 2, loss: 0.3, learningRate: 0.1, imagesPerSecond: 1000, batchAccuracy: 1, time: 10)]
        s.elapsed = 10
        return s
    }

    @Test func tableShowsOnlyTheKeysThatDiffer() {
        let c = Comparison(snapshots: [snapshot("name: a\nseed: 1", finalAccuracy: 0.9),
                                       snapshot("name: a\nseed: 2\ngradient: {filter: sign}", finalAccuracy: 0.8)])
        #expect(c.differingKeys == ["gradient.filter", "seed"])
        #expect(c.header == ["run", "gradient.filter", "seed", "state", "best acc", "final acc", "final loss", "time", "img/s"])
        #expect(c.rows[1] == ["a", "sign", "2", "finished", "80.00%", "80.00%", "0.3000", "10s", "1000"])
        #expect(c.csv().split(separator: "\n").count == 3)
        let json = try! JSONSerialization.jsonObject(with: Data(c.json().utf8)) as! [[String: Any]]
        #expect(json[1]["gradient.filter"] as? String == "sign" && json[1]["finalAccuracy"] as? Double == 0.8)
    }

    /// --markdown: mean ± sample std over the seeds of each cell.
    @Test func markdownGroupsSeeds() {
        let runs = [snapshot("name: a\nseed: 1", finalAccuracy: 0.90), snapshot("name: a\nseed: 2", finalAccuracy: 0.92),
                    snapshot("name: a\nseed: 1\ngradient: {filter: sign}", finalAccuracy: 0.80),
                    snapshot("name: a\nseed: 2\ngradient: {filter: sign}", finalAccuracy: 0.84)]
        let md = Comparison(snapshots: runs).markdown().split(separator: "\n").map(String.init)
        #expect(md[0] == "| gradient.filter | runs | final test accuracy | best test accuracy | final loss | time per run |")
        // mean 91%, sd = √((1² + 1²)/1) = 1.41 points; 82 ± 2.83.
        #expect(md[2] == "| fullPrecision | 2/2 | 91.00 ± 1.41% | 91.00 ± 1.41% | 0.3000 ± 0.0000 | 10 s |")
        #expect(md[3].hasPrefix("| sign | 2/2 | 82.00 ± 2.83% |"))
    }

    @Test func exportThinsStepsAndKeepsTheRest() throws {
        let run = try TrainingRun(config: smallConfig("exp", steps: 40), runsDirectory: tempDir())
        run.start()
        #expect(run.wait().state == .finished)
        let dest = tempDir()
        let target = try RunExport.export(run.directory!, into: dest, stepEvery: 10)
        #expect(try FileManager.default.contentsOfDirectory(atPath: target).sorted() == ["config.yaml", "metrics.jsonl"])
        let copy = try RunReader.read(directory: target), original = try RunReader.read(directory: run.directory!)
        #expect(copy.steps.map(\.step) == [10, 20, 30, 40])
        #expect(copy.evals == original.evals && copy.layers.count == original.layers.count && copy.state == .finished)
        #expect(throws: RunError.self) { try RunExport.export(dest, into: dest, stepEvery: 1) }
    }
}

@Suite("Groups over seeds")
struct RunGroupingTests {
    static var results: String { "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/experiments/results" }

    /// The gradient ablation in experiments/results: seven groups of three seeds, short
    /// labels from what differs, and the statistics `compare --markdown` prints.
    @Test func theAblationFormsSevenLabelledGroups() throws {
        let snaps = try RunReader.runDirectories(in: RunGroupingTests.results).map { try RunReader.read(directory: $0) }
        let g = RunGrouping(snapshots: snaps)
        #expect(g.differingKeys == ["adders", "learningRate.strategy", "gradient.filter", "seed"])
        #expect(g.groups.map(\.label) == ["cnn", "fp·adaptive", "fp·fixed", "fp·scaled", "sign·adaptive", "sign·fixed", "sign·scaled"])
        #expect(g.groups.map(\.runs.count) == Array(repeating: 3, count: 7))
        #expect(g.groups.map { $0.finalAccuracy?.text(percent: true) ?? "" }
                == ["90.55 ± 0.14%", "89.90 ± 0.13%", "84.25 ± 1.17%", "89.03 ± 0.43%", "83.95 ± 1.09%", "84.35 ± 1.25%", "85.26 ± 1.11%"])
        #expect(g.groups.map(\.statesText) == Array(repeating: "3 finished", count: 7))
        // Every line of the Markdown table is built from the same groups.
        let md = Comparison(snapshots: snaps).markdown().split(separator: "\n")
        #expect(md[2] == "| cnn | adaptive | fullPrecision | 3/3 | 90.55 ± 0.14% | 90.55 ± 0.14% | 0.2711 ± 0.0529 | 16 s |")
    }

    @Test func meanAndSampleStandardDeviation() {
        let m = MeanStd([0.8, 0.9, 1.0])!
        #expect(abs(m.mean - 0.9) < 1e-12 && abs(m.std! - 0.1) < 1e-12 && m.count == 3)
        #expect(m.text(percent: true) == "90.00 ± 10.00%")
        #expect(MeanStd([0.5])!.text(percent: true) == "50.00%" && MeanStd([0.5])!.std == nil)
        #expect(MeanStd([]) == nil && MeanStd([.nan]) == nil)
        #expect(MeanStd([1, .infinity, 3])!.mean == 2, "non-finite values are left out")
    }

    /// Labels that come out alike get the differing values.
    @Test func labelsFallBackToTheValues() throws {
        func run(_ name: String, _ lr: Double, seed: Int) throws -> RunSnapshot {
            RunSnapshot(config: try Experiment.parse(yaml: "name: \(name)\noptimizer: {lr: \(lr)}\nseed: \(seed)").runs[0])
        }
        let g = RunGrouping(snapshots: [try run("same", 0.1, seed: 1), try run("same", 0.2, seed: 1), try run("same", 0.1, seed: 2)])
        #expect(g.groupingKeys == ["optimizer.lr"])
        // Both named "same": the value that tells them apart is added.
        #expect(g.groups.map(\.label) == ["same·0.1", "same·0.2"])
        #expect(g.groups.map(\.runs.count) == [2, 1])
    }
}
