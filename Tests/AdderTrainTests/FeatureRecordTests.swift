import Foundation
import Testing
import AdderCore
@testable import AdderTrain

@Suite("Feature records", .serialized, .timeLimit(.minutes(5)))
struct FeatureRecordTests {
    @Test func lineFormat() {
        let r = FeatureRecord(step: 469, epoch: 1, x: [0.123456, -2.5, 12345.678], y: [1e-7, 0, -1], labels: [3, 0, 9])
        #expect(r.jsonLine == #"{"step":469,"epoch":1,"x":[0.1235,-2.5,1.235e+04],"y":[1e-07,0,-1],"label":[3,0,9]}"#)
    }

    /// A short synthetic run with the 2-unit layer writes one record per evaluation, of the
    /// first 500 test images (all there are), the same images each time; a resume after a
    /// kill drops the records after its checkpoint and writes the same ones again.
    @Test func oneRecordPerEvaluationAndResume() throws {
        let config = smallConfig("feat", steps: 60, epochs: 3, set: ["featureDimensions=2"])
        let full = try TrainingRun(config: config, runsDirectory: tempDir(), threads: 1)
        full.start()
        let snap = full.wait()
        #expect(snap.state == .finished, "\(snap.message)")
        var file = FeaturesFile(path: RunFiles(full.directory!).features)
        file.readToEnd()
        #expect(file.problems == [])
        #expect(file.records.map(\.step) == snap.evals.map(\.step))
        #expect(file.records.map(\.step) == [20, 40, 60])
        #expect(file.records.map(\.epoch) == [1, 2, 3])
        #expect(file.records.map(\.count) == [500, 500, 500])
        #expect(Set(file.records.map(\.labels)).count == 1)
        #expect(Set(file.records[0].labels) == Set(0..<10))
        #expect(file.records.allSatisfy { $0.x.allSatisfy(\.isFinite) && $0.y.allSatisfy(\.isFinite) })
        #expect(file.records[0].x != file.records[2].x)

        let killed = try TrainingRun(config: config, runsDirectory: tempDir(), threads: 1)
        killed.start()
        #expect(killed.wait().state == .finished)
        let dir = killed.directory!
        try FileManager.default.removeItem(atPath: dir + "/checkpoints/latest.safetensors")
        try FileManager.default.copyItem(atPath: dir + "/checkpoints/epoch-1.safetensors", toPath: dir + "/checkpoints/latest.safetensors")
        let resumed = try TrainingRun(resuming: dir, threads: 1)
        resumed.start()
        #expect(resumed.wait().state == .finished)
        var again = FeaturesFile(path: RunFiles(dir).features)
        again.readToEnd()
        #expect(again.records == file.records)

        // A run without the layer writes no features file.
        let plain = try TrainingRun(config: smallConfig("plain", steps: 10), runsDirectory: tempDir(), threads: 1)
        plain.start()
        #expect(plain.wait().state == .finished)
        #expect(!FileManager.default.fileExists(atPath: RunFiles(plain.directory!).features))
    }

    /// Every number is range-checked; a bad line is named with its number and skipped; a
    /// torn last line waits for the rest.
    @Test func readerNamesBadLinesAndFollowsTheFile() throws {
        let path = tempDir() + "/features.jsonl"
        let good1 = FeatureRecord(step: 10, epoch: 0.5, x: [1, 2], y: [3, 4], labels: [0, 9])
        let good2 = FeatureRecord(step: 20, epoch: 1, x: [-1], y: [0.25], labels: [5])
        let lines = [
            good1.jsonLine,
            #"{"step":15,"epoch":0.7,"x":[1,2],"y":[3],"label":[0,1]}"#,
            "",
            #"{"step":16,"epoch":0.7,"x":[1e39],"y":[3],"label":[0]}"#,
            #"{"step":17,"epoch":0.7,"x":[1],"y":[3],"label":[2.5]}"#,
            #"{"step":-1,"epoch":0.7,"x":[1],"y":[3],"label":[2]}"#,
            #"{"step":18,"epoch":1e300,"x":[1],"y":[3],"label":[2]}"#,
            "[1,2,3]",
            #"{"step":19,"epoch":0.9,"x":[null],"y":[3],"label":[1000]}"#,
        ]
        let torn = good2.jsonLine
        try Data((lines.joined(separator: "\n") + "\n" + torn.prefix(20)).utf8).write(to: URL(fileURLWithPath: path))
        var file = FeaturesFile(path: path)
        let first = file.update()
        #expect(first)
        #expect(file.records == [good1])
        #expect(file.problems == [
            "features.jsonl:2: x, y and label have 2, 1 and 2 entries; they must be as many; line skipped",
            "features.jsonl:4: x[0] is not a number within ±1e+30; line skipped",
            "features.jsonl:5: label[0] is not a whole number from 0 to 999; line skipped",
            "features.jsonl:6: step is missing or not a whole number from 0 to 1099511627776; line skipped",
            "features.jsonl:7: epoch is missing or not a number from 0 to 1000000000; line skipped",
            "features.jsonl:8: not a JSON object; line skipped",
            "features.jsonl:9: x[0] is not a number within ±1e+30; line skipped",
        ])
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd(); h.write(Data((torn.dropFirst(20) + "\n").utf8)); try h.close()
        let second = file.update(), third = file.update()
        #expect(second && !third)
        #expect(file.records == [good1, good2])
        #expect(file.skippedLines == 7)
    }

    @Test func truncationKeepsRecordsUpToTheStep() throws {
        let dir = tempDir()
        let records = [10, 20, 30].map { FeatureRecord(step: $0, epoch: Double($0) / 10, x: [1], y: [2], labels: [3]) }
        let text = records.map(\.jsonLine).joined(separator: "\n") + "\nnot json\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: RunFiles(dir).features))
        try RunDirectory.truncateFeatures(in: dir, after: 20)
        #expect(try String(contentsOfFile: RunFiles(dir).features, encoding: .utf8)
            == records[0].jsonLine + "\n" + records[1].jsonLine + "\nnot json\n")
    }
}
