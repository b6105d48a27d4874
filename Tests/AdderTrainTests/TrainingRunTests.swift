import CZlib
import Foundation
import Testing
import AdderCore
import AdderNN
@testable import AdderTrain

@Suite("Training runs", .serialized, .timeLimit(.minutes(5)))
struct RunTests {
    /// The vertical slice: a synthetic-data AdderNet LeNet-5-BN run of a few hundred steps
    /// reaches ≥ 90% test accuracy and leaves a valid run directory.
    @Test func syntheticRunLearnsAndWritesAValidDirectory() throws {
        let runs = tempDir()
        let run = try TrainingRun(config: smallConfig("slice", steps: 300, batch: 32, epochs: 2), runsDirectory: runs)
        run.start()
        let snap = run.wait()
        #expect(snap.state == .finished, "\(snap.message)")
        #expect(snap.step == 300)
        let acc = try #require(snap.finalAccuracy)
        #expect(acc >= 0.9, "test accuracy \(acc)")
        let dir = try #require(run.directory)

        // metrics.jsonl: every line is a JSON object with a kind and a step.
        let lines = try String(contentsOfFile: dir + "/metrics.jsonl", encoding: .utf8).split(separator: "\n")
        var kinds: [String: Int] = [:]
        for l in lines {
            let o = try #require(try JSONSerialization.jsonObject(with: Data(l.utf8)) as? [String: Any])
            #expect(o["step"] is Int)
            kinds[o["kind"] as! String, default: 0] += 1
        }
        #expect(kinds["step"] == 300 && kinds["eval"] == 2 && kinds["layers"] == 300)

        // The TensorBoard file: every record's two CRCs check out, and the scalars are there.
        let events = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("events.out.tfevents.") }
        #expect(events.count == 1)
        let records = try TFRecords.read(dir + "/" + events[0])
        #expect(records.count > 300)
        #expect(String(decoding: records[0], as: UTF8.self).contains("brain.Event:2"))
        let tags = Set(records.dropFirst().flatMap { TFRecords.scalarTags($0) })
        #expect(tags.isSuperset(of: ["train/loss", "test/accuracy", "layers/conv2/alpha", "layers/conv3/grad_norm"]))

        // The checkpoint loads into a fresh model and reproduces the run's test accuracy.
        let model = Model(.lenet5, seed: 99)
        let meta = try Checkpoint.load(from: URL(fileURLWithPath: dir + "/checkpoints/latest.safetensors"), into: model, optimizer: nil)
        #expect(meta["step"] == "300")
        #expect(FileManager.default.fileExists(atPath: dir + "/checkpoints/epoch-2.safetensors"))
        // Read back from the directory alone.
        let reread = try RunReader.read(directory: dir)
        #expect(reread.state == .finished && reread.finalAccuracy == snap.finalAccuracy && reread.steps.count == 300)
    }

    @Test func gradientModeSwitchTakesEffectOnTheNextStepAndIsRecorded() throws {
        let run = try TrainingRun(config: smallConfig("flip", steps: 80), runsDirectory: nil)
        run.start()
        #expect(waitUntil { run.snapshot().step >= 20 })
        run.toggleGradientMode()
        let snap = run.wait()
        #expect(snap.state == .finished)
        let event = try #require(snap.events.first { $0.kind == .gradientMode })
        #expect(event.detail == "sign/sign" && event.step >= 20)
        #expect(snap.gradientMode == .rules(.sign))
        let before = try #require(snap.layers.first { $0.step == event.step })
        let after = try #require(snap.layers.first { $0.step == event.step + 1 })
        #expect(before.layers.filter { $0.type == "Adder2d" }.allSatisfy { $0.gradientRules == .paper })
        #expect(after.layers.filter { $0.type == "Adder2d" }.allSatisfy { $0.gradientRules == .sign })
    }

    @Test func pauseResumeAndStopFromAnotherThread() throws {
        let runs = tempDir()
        let run = try TrainingRun(config: smallConfig("ctl", steps: 400), runsDirectory: runs)
        run.start()
        #expect(waitUntil { run.snapshot().step >= 5 })
        DispatchQueue.global().async { run.pause() }
        #expect(waitUntil { run.snapshot().state == .paused })
        let pausedAt = run.snapshot().step
        usleep(200_000)
        #expect(run.snapshot().step == pausedAt)
        DispatchQueue.global().async { run.setEta(0.5); run.resumeTraining() }
        #expect(waitUntil { run.snapshot().step > pausedAt + 3 })
        DispatchQueue.global().async { run.stop() }
        let snap = run.wait()
        #expect(snap.state == .stopped && snap.step < 400)
        #expect(snap.eta == 0.5)
        #expect(snap.events.map(\.kind).filter { $0 != .state } == [.pause, .eta, .resume])
        // Stopping wrote a checkpoint at the step where it stopped.
        let meta = try Safetensors.read(from: URL(fileURLWithPath: run.directory! + "/checkpoints/latest.safetensors")).metadata
        #expect(meta["step"] == String(snap.step) && meta["eta"] == "0.5")
    }

    @Test func twoRunsAtOnce() throws {
        let a = try TrainingRun(config: smallConfig("a", steps: 50), runsDirectory: nil)
        let b = try TrainingRun(config: smallConfig("b", steps: 50, set: ["adders=cnn"]), runsDirectory: nil)
        a.start(); b.start()
        #expect(a.wait().state == .finished)
        #expect(b.wait().state == .finished)
        #expect(a.snapshot().steps.count == 50 && b.snapshot().steps.count == 50)
    }

    @Test func divergenceIsReportedWithStepAndLayer() throws {
        let config = smallConfig("nan", steps: 40, set: ["learningRate.strategy=fixed", "optimizer.lr=1e30"])
        let run = try TrainingRun(config: config, runsDirectory: nil)
        run.start()
        let snap = run.wait()
        #expect(snap.state == .diverged)
        #expect(snap.message.contains("at step"), "\(snap.message)")
        #expect(snap.message.contains("loss") || snap.message.contains("gradient in"), "\(snap.message)")
    }

    @Test func missingDatasetFailsWithWhereItLooked() throws {
        let config = try Experiment.parse(yaml: "name: m\ndataset: mnist\ndataDir: /nonexistent/mnist").runs[0]
        let run = try TrainingRun(config: config, runsDirectory: nil)
        run.start()
        let snap = run.wait()
        #expect(snap.state == .failed)
        #expect(snap.message.contains("/nonexistent/mnist/train-images-idx3-ubyte"), "\(snap.message)")
    }

    /// Presses in a row compound: each scales η as it is when it takes effect.
    @Test func etaChangesActOnTheCurrentValue() throws {
        let run = try TrainingRun(config: smallConfig("eta2", steps: 20), runsDirectory: nil)
        run.scaleEta(by: 1.25)
        run.scaleEta(by: 1.25)
        run.start()
        let s = run.wait()
        #expect(s.eta == 0.2 * 1.25 * 1.25 && s.events.filter { $0.kind == .eta }.map(\.detail) == ["0.25", "0.3125"])
    }

    /// While paused a run trains nothing (0 img/s, no ETA); once ended, its speed is the run's mean.
    @Test func speedFollowsTheState() {
        var s = RunSnapshot(config: smallConfig())
        s.steps = [100, 200, 300].enumerated().map { StepRecord(step: $0 + 1, epoch: 0.1, loss: 1, learningRate: 0.1, imagesPerSecond: $1, batchAccuracy: 0.5, time: 1) }
        s.totalSteps = 10
        s.state = .running
        #expect(s.imagesPerSecond == 200 && s.remainingSeconds != nil)
        s.state = .paused
        #expect(s.imagesPerSecond == 0 && s.remainingSeconds == nil)
        s.steps += (4...30).map { StepRecord(step: $0, epoch: 0.1, loss: 1, learningRate: 0.1, imagesPerSecond: 1000, batchAccuracy: 0.5, time: 1) }
        s.state = .finished
        #expect(s.imagesPerSecond == (600 + 27 * 1000) / 30.0)
    }

    /// A run that cannot start says why in its directory, not only on screen.
    @Test func aFailedStartIsRecordedInTheRunDirectory() throws {
        let config = try Experiment.parse(yaml: "name: m\ndataset: mnist\ndataDir: /nonexistent/mnist").runs[0]
        let run = try TrainingRun(config: config, runsDirectory: tempDir())
        run.start()
        let snap = run.wait()
        let reread = try RunReader.read(directory: run.directory!)
        #expect(reread.state == .failed && reread.message == snap.message && snap.message.contains("/nonexistent/mnist/train-images-idx3-ubyte"))
        let log = try String(contentsOfFile: run.directory! + "/run.log", encoding: .utf8)
        #expect(log == String(format: "[%8.1fs] step 0: state failed: %@\n", 0.0, snap.message))
    }

    /// Each run's kernels use its own thread count: two runs trained at the same time
    /// with 1 and 2 threads give, loss for loss, what each gives alone.
    @Test func threadsArePerRun() throws {
        let config = smallConfig("threads", steps: 20)
        func alone(_ threads: Int) throws -> [Double] {
            let r = try TrainingRun(config: config, runsDirectory: nil, threads: threads)
            r.start()
            return r.wait().steps.map(\.loss)
        }
        let one = try alone(1), two = try alone(2)
        #expect(one != two, "the thread count changes the rounding, so the test can tell them apart")
        let a = try TrainingRun(config: config, runsDirectory: nil, threads: 1)
        let b = try TrainingRun(config: config, runsDirectory: nil, threads: 2)
        a.start(); b.start()
        #expect(a.wait().steps.map(\.loss) == one)
        #expect(b.wait().steps.map(\.loss) == two)
    }

    /// A run killed after a checkpoint (simulated: the latest checkpoint is rolled back to
    /// epoch 1, and metrics.jsonl holds later records and a torn last line) resumes to the
    /// same final weights, bit for bit, as the uninterrupted run, continuing the same file.
    @Test func resumeAfterAKillIsBitIdentical() throws {
        let config = smallConfig("resume", steps: 90, epochs: 3)
        let full = try TrainingRun(config: config, runsDirectory: tempDir(), threads: 2)
        full.start()
        #expect(full.wait().state == .finished)

        let killed = try TrainingRun(config: config, runsDirectory: tempDir(), threads: 2)
        killed.start()
        #expect(killed.wait().state == .finished)
        let dir = killed.directory!
        let fm = FileManager.default
        try fm.removeItem(atPath: dir + "/checkpoints/latest.safetensors")
        try fm.copyItem(atPath: dir + "/checkpoints/epoch-1.safetensors", toPath: dir + "/checkpoints/latest.safetensors")
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        try h.seekToEnd(); h.write(Data("{\"kind\":\"step\",\"st".utf8)); try h.close()

        let resumed = try TrainingRun(resuming: dir, threads: 2)
        resumed.start()
        let snap = resumed.wait()
        #expect(snap.state == .finished, "\(snap.message)")
        #expect(snap.events.contains { $0.kind == .resumedFromCheckpoint && $0.step == 30 })

        let a = try Safetensors.read(from: URL(fileURLWithPath: full.directory! + "/checkpoints/latest.safetensors")).tensors
        let b = try Safetensors.read(from: URL(fileURLWithPath: dir + "/checkpoints/latest.safetensors")).tensors
        #expect(a.count == b.count && a.keys.sorted() == b.keys.sorted())
        for (k, v) in a { #expect(b[k] == v, "\(k) differs after resume") }
        // The same metrics file goes on: one record per step, in order, no duplicates.
        let reread = try RunReader.read(directory: dir)
        #expect(reread.steps.map(\.step) == Array(1...90))
        let fullLosses = try RunReader.read(directory: full.directory!).steps.map(\.loss)
        #expect(reread.steps.map(\.loss) == fullLosses)
    }
}

/// Reads TFRecord files, verifying both masked CRC-32Cs of every record.
enum TFRecords {
    struct CorruptRecord: Error { let offset: Int; let what: String }

    static func read(_ path: String) throws -> [[UInt8]] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var out: [[UInt8]] = [], i = 0
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
        while i < bytes.count {
            guard i + 12 <= bytes.count else { throw CorruptRecord(offset: i, what: "short header") }
            let lenBytes = Array(bytes[i..<(i + 8)])
            let len = (0..<8).reduce(0) { $0 | Int(lenBytes[$1]) << (8 * $1) }
            guard u32(i + 8) == mask(crc32c(lenBytes)) else { throw CorruptRecord(offset: i, what: "length CRC") }
            let data = Array(bytes[(i + 12)..<(i + 12 + len)])
            guard u32(i + 12 + len) == mask(crc32c(data)) else { throw CorruptRecord(offset: i, what: "data CRC") }
            out.append(data)
            i += 16 + len
        }
        return out
    }

    /// An independent CRC-32C (bitwise, no table) so the writer's table is checked too.
    static func crc32c(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = ~0
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c >> 1) ^ (0x82F6_3B78 & (0 &- (c & 1))) }
        }
        return ~c
    }

    static func mask(_ c: UInt32) -> UInt32 { ((c >> 15) | (c << 17)) &+ 0xA282_EAD8 }

    /// The tags of the Summary.Value entries in an Event (field 5 → field 1 → field 1).
    static func scalarTags(_ event: [UInt8]) -> [String] {
        return protobufFields(event).filter { $0.field == 5 }.flatMap { protobufFields($0.bytes) }.filter { $0.field == 1 }
            .compactMap { protobufFields($0.bytes).first { $0.field == 1 }.map { String(decoding: $0.bytes, as: UTF8.self) } }
    }
}

@Suite("Presets")
struct PresetTests {
    /// experiments/smoke.yaml, as CI runs it: to completion, and to its accuracy bar.
    @Test func smokeRunsToCompletionAndLearns() throws {
        let dir = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let config = try Experiment.load(path: "/" + dir + "/experiments/smoke.yaml").runs[0]
        let run = try TrainingRun(config: config, runsDirectory: nil)
        run.start()
        let snap = run.wait()
        #expect(snap.state == .finished, "\(snap.message)")
        #expect((snap.finalAccuracy ?? 0) >= 0.9, "smoke accuracy \(snap.finalAccuracy ?? 0)")
    }

    /// The paper's recipes fail, when the files are missing, by saying where to put them.
    @Test func recipesWithoutTheirFilesSayWhereToPutThem() throws {
        let dir = #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
        let config = try Experiment.load(path: "/" + dir + "/experiments/cifar10-resnet20-adder.yaml",
                                         overrides: ["dataDir=/nonexistent/cifar"]).runs[0]
        let run = try TrainingRun(config: config, runsDirectory: nil)
        run.start()
        let snap = run.wait()
        #expect(snap.state == .failed)
        #expect(snap.message.contains("/nonexistent/cifar/data_batch_1.bin") && snap.message.contains("binary version"), "\(snap.message)")
    }
}
