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
