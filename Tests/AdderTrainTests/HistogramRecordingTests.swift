import Foundation
import Testing
import AdderCore
import AdderNN
@testable import AdderTrain

@Suite("Histogram recording", .serialized, .timeLimit(.minutes(5)))
struct HistogramRecordingTests {
    static func doubles(_ b: [UInt8]) -> [Double] {
        stride(from: 0, to: b.count, by: 8).map { at in Double(bitPattern: (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[at + $1]) << (8 * $1) }) }
    }

    /// The histograms of one TensorBoard event: tag → (min, max, num, sum, sum_squares, bucket_limit, bucket).
    static func histograms(_ event: [UInt8]) -> [String: [[Double]]] {
        var out: [String: [[Double]]] = [:]
        for summary in protobufFields(event) where summary.field == 5 {
            for value in protobufFields(summary.bytes) where value.field == 1 {
                let parts = protobufFields(value.bytes)
                guard let tag = parts.first(where: { $0.field == 1 }), let histo = parts.first(where: { $0.field == 5 }) else { continue }
                let h = protobufFields(histo.bytes)
                out[String(decoding: tag.bytes, as: UTF8.self)] = (1...7).map { f in h.filter { $0.field == f }.flatMap { doubles($0.bytes) } }
            }
        }
        return out
    }

    @Test func histogramsAreRecordedReadBackAndWrittenToTensorBoard() throws {
        let runs = tempDir()
        let run = try TrainingRun(config: smallConfig("hist", steps: 40, set: ["histogramEvery=15"]), runsDirectory: runs)
        run.start()
        let snap = run.wait()
        #expect(snap.state == .finished, "\(snap.message)")
        let dir = try #require(run.directory)
        // Every 15 steps and at the last.
        var file = MetricsFile(path: RunFiles(dir).histograms)
        var steps: [Int] = []
        for line in try String(contentsOfFile: RunFiles(dir).histograms, encoding: .utf8).split(separator: "\n") {
            guard case .histograms(let r)? = MetricsFile.decode(Data(line.utf8)) else { Issue.record("unreadable: \(line.prefix(80))"); continue }
            steps.append(r.step)
        }
        #expect(steps == [15, 30, 40])
        file.readToEnd()
        let last = try #require(snap.histograms)
        // Written as it was made, every number back exactly.
        #expect(file.history.histograms == last)
        #expect(file.history.skippedLines == 0 && file.history.invalidValues == 0)
        #expect(try RunReader.read(directory: dir).histograms == last)
        #expect(last.layers.map { "\($0.name) \($0.type) \($0.weights.count) \($0.outputs?.count ?? -1)" }
                == ["conv1 Conv2d 150 150528", "conv2 Adder2d 2400 51200", "conv3 Adder2d 48000 3840", "fc1 Linear 10080 2688", "fc2 Linear 840 320"])
        // The weights' histogram is of the model's weights as they were at the last step.
        let model = Model(.lenet5, seed: 99)
        try Checkpoint.load(from: URL(fileURLWithPath: RunFiles(dir).latestCheckpoint), into: model, optimizer: nil)
        let conv2 = try #require(model.namedParameters.first { $0.0 == "conv2.weight" }?.1.value)
        #expect(last.layers[1].weights == conv2.withUnsafeBufferPointer { Histogram(values: $0) })

        // TensorBoard: one histogram event per record, each as the record says.
        let events = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("events.out.tfevents.") }
        let tb = try TFRecords.read(dir + "/" + events[0]).map(HistogramRecordingTests.histograms).filter { !$0.isEmpty }
        #expect(tb.count == 3)
        #expect(Set(tb[2].keys) == ["weights/conv1", "weights/conv2", "weights/conv3", "weights/fc1", "weights/fc2",
                                    "outputs/conv1", "outputs/conv2", "outputs/conv3", "outputs/fc1", "outputs/fc2"])
        let h = last.layers[1].weights
        #expect(tb[2]["weights/conv2"]! == [[h.minimum], [h.maximum], [2400], [h.sum], [h.sumOfSquares],
                                            (1...64).map(h.edge), h.counts.map(Double.init)])
        let tags = Set(try TFRecords.read(dir + "/" + events[0]).flatMap { TFRecords.scalarTags($0) })
        #expect(tags.isSuperset(of: ["weights/conv2/gaussian_log_likelihood", "weights/conv2/laplace_log_likelihood"]))
    }

    @Test func histogramEveryZeroRecordsNone() throws {
        let run = try TrainingRun(config: smallConfig("nohist", steps: 10, set: ["histogramEvery=0"]), runsDirectory: tempDir())
        run.start()
        let snap = run.wait()
        #expect(snap.state == .finished && snap.histograms == nil)
        #expect(try Data(contentsOf: URL(fileURLWithPath: RunFiles(run.directory!).histograms)).isEmpty)
    }

    @Test func histogramEveryIsRangeChecked() {
        #expect(throws: ConfigError.self) { try Experiment.parse(yaml: "name: x\nhistogramEvery: -1") }
        #expect(ExperimentConfig(name: "x").histogramEvery == 200)
        #expect(try! Experiment.parse(yaml: "name: x\nhistogramEvery: 50").runs[0].histogramEvery == 50)
    }

    /// A line that cannot be read is skipped, and the snapshot names the file and the line.
    @Test func corruptLinesAreSkippedAndNamed() throws {
        let run = try TrainingRun(config: smallConfig("corrupt", steps: 20, set: ["histogramEvery=10"]), runsDirectory: tempDir())
        run.start()
        let snap = run.wait()
        let path = RunFiles(run.directory!).histograms
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        // A bin count that is not a whole number, counts that do not match the range, a torn line.
        let fractional = lines[0].replacingOccurrences(of: #""counts":["#, with: #""counts":[0.5,"#)
        let inverted = lines[0].replacingOccurrences(of: #""min":"#, with: #""min":1e30,"was":"#)
        try ([lines[0], fractional, "{\"kind\":\"histograms\",\"step\":", inverted, lines[1]].joined(separator: "\n") + "\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        let reread = try RunReader.read(directory: run.directory!)
        #expect(reread.histograms == snap.histograms)
        #expect(reread.histogramProblem == "histograms.jsonl: line 2 unreadable (3 lines skipped)")
    }

    @Test func resumeDropsTheHistogramsAfterTheCheckpoint() throws {
        let dir = tempDir() + "/r"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let record = { (step: Int) in JSON.encode(HistogramRecord(step: step, layers: [LayerHistograms(name: "a", type: "Adder2d",
                                                                   weights: Histogram(values: [1, 2, 3] as [Float])!, outputs: nil)]).json) }
        try ([10, 20, 30].map(record).joined(separator: "\n") + "\n").write(toFile: RunFiles(dir).histograms, atomically: true, encoding: .utf8)
        try RunDirectory.truncateMetrics(in: dir, after: 20)
        #expect(try String(contentsOfFile: RunFiles(dir).histograms, encoding: .utf8) == [10, 20].map(record).joined(separator: "\n") + "\n")
    }
}
