import Foundation
import Testing
import AdderCore
import AdderNN
@testable import AdderTrain

@Suite("Checkpoint state and metrics sink")
struct CheckpointStateTests {
    /// The metadata a checkpoint gets, as Checkpoint.save completes it.
    func saved(_ state: CheckpointState, model: Model) -> [String: String] {
        var m = state.metadata
        m["format"] = Checkpoint.format; m["model"] = state.config.model.rawValue; m["classes"] = String(model.classes)
        m["optimizer.steps"] = String(state.step)
        return m
    }

    @Test func metadataReadsBackAsTheSameState() throws {
        let config = smallConfig("s", steps: 40)
        let model = Model(config.model, placement: config.placement)
        let rules = Dictionary(uniqueKeysWithValues: model.adderLayers.map { ($0.0, GradientRules.sign) })
        let state = CheckpointState(step: 17, trainCorrect: 100, trainSeen: 544, elapsed: 3.25, eta: 0.3125, rules: rules, config: config, epoch: nil)
        let back = try CheckpointState(metadata: saved(state, model: model), file: "c", config: config, model: model, totalSteps: 40)
        #expect(back == state)
        var withEpoch = state
        withEpoch.epoch = 1
        #expect(try CheckpointState(metadata: saved(withEpoch, model: model), file: "c", config: config, model: model, totalSteps: 40) == withEpoch)
    }

    @Test func theSinkWritesTheStoreTheFileAndTensorBoard() throws {
        let dir = try RunDirectory.create(in: tempDir(), name: "sink", config: smallConfig("sink"))
        let store = MetricsStore(RunSnapshot(config: smallConfig("sink")))
        let sink = MetricsSink(store: store, directory: try RunDirectory(path: dir, lock: try RunLock(directory: dir)))
        let step = StepRecord(step: 1, epoch: 0.5, loss: 2, learningRate: 0.1, imagesPerSecond: 100, batchAccuracy: 0.25, time: 1)
        try sink.step(step, totalSteps: 1)
        try sink.state(.finished, "", step: 1, time: 2)
        #expect(store.snapshot().steps == [step] && store.snapshot().state == .finished)
        #expect(try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8) == """
            {"kind":"step","step":1,"epoch":0.5,"loss":2.0,"lr":0.1,"imagesPerSecond":100.0,"batchAccuracy":0.25,"time":1.0}
            {"kind":"event","step":1,"event":"state","detail":"finished","time":2.0}

            """)
        #expect(try String(contentsOfFile: dir + "/run.log", encoding: .utf8) == "[     1.0s] step 1/1 epoch 0.50 loss 2.0000 lr 0.1 100 img/s\n[     2.0s] step 1: state finished\n")
        let tb = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("events.out.tfevents.") }!
        let records = try TFRecords.read(dir + "/" + tb)
        #expect(records.count == 2 && TFRecords.scalarTags(records[1]) == ["train/loss", "train/learning_rate", "train/images_per_second", "train/batch_accuracy"])
    }
}
