import Foundation
import Synchronization
import Testing
import AdderCore
import AdderNN
@testable import AdderTrain

/// Reproductions of the hostile-input attack (issue #13): each failed on the code before
/// the fix — a write outside the runs directory, a trap, a hang, or lost data.
@Suite("Hostile input")
struct HostileInputTests {
    func parseError(_ yaml: String, overrides: [String] = []) -> String {
        do { _ = try Experiment.parse(yaml: yaml, file: "x.yaml", overrides: overrides); return "no error" } catch { return error.description }
    }

    // MARK: 1. names

    @Test func labelsAndGridValuesCannotLeaveTheRunsDirectory() throws {
        #expect(parseError("name: a\ngroup:\n  runs:\n    - {label: \"/../../../../../../../escape\", seed: 1}")
            == "x.yaml:4: group.runs[0].label: makes the run name 'a-/../../../../../../../escape', which holds a character that is not allowed; a run name is \(RunName.allowed)")
        #expect(parseError("name: a\ngroup:\n  grid:\n    dataDir: [\"x/../../y\"]")
            == "x.yaml:4: group.grid.dataDir: makes the run name 'a-x/../../y', which holds a character that is not allowed; a run name is \(RunName.allowed)")
        #expect(parseError("name: \"abc\\n\"") == "x.yaml:1: name: 'abc\\n' holds a character that is not allowed; it names the run directory: \(RunName.allowed)")
        // The directory maker checks again, whatever its caller did.
        let runs = tempDir()
        #expect(throws: RunError("run name '../escape' holds a character that is not allowed; a run name is \(RunName.allowed)")) {
            _ = try RunDirectory.create(in: runs, name: "../escape", config: smallConfig())
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: (runs as NSString).deletingLastPathComponent + "/escape"))
    }

    /// mkdir, not "exists? then create": eight directories made at once are eight.
    @Test func runDirectoriesAreNeverShared() throws {
        let runs = tempDir()
        let made = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            if let d = try? RunDirectory.create(in: runs, name: "same", config: smallConfig()) { made.withLock { $0.append(d) } }
        }
        #expect(Set(made.withLock { $0 }).count == 8)
        #expect(try FileManager.default.contentsOfDirectory(atPath: runs).count == 8)
    }

    // MARK: 2. a full disk

    /// metrics.jsonl on /dev/full (every write: ENOSPC): the run fails with the reason
    /// instead of trapping in FileHandle.write.
    @Test func fullDiskStopsTheRunWithAMessage() throws {
        let runs = tempDir()
        let run = try TrainingRun(config: smallConfig("full", steps: 20), runsDirectory: runs)
        let dir = run.directory!
        #expect(symlink("/dev/full", dir + "/metrics.jsonl") == 0)
        run.start()
        let snap = run.wait()
        #expect(snap.state == .failed)
        #expect(snap.message == "cannot write \(dir)/metrics.jsonl: write: no space left on device")
    }

    // MARK: 3. absurd values in metrics files

    @Test func absurdValuesAreReadAsMissingNeverTrappedOn() throws {
        let dir = try finishedRunDirectory()
        let lines = [
            #"{"kind":"step","step":1,"epoch":1e-300,"loss":1e308,"lr":0.1,"imagesPerSecond":-5,"batchAccuracy":2,"time":1}"#,
            #"{"kind":"step","step":2,"epoch":0.02,"loss":-1e308,"lr":0.1,"imagesPerSecond":100,"batchAccuracy":0.5,"time":2}"#,
            #"{"kind":"eval","step":2,"epoch":0.02,"testLoss":1e308,"testAccuracy":1.5,"testAccuracyBatchStats":-1,"trainAccuracy":0.5,"time":2,"batchNormDrift":[{"name":"bn1","meanGap":1e308,"logVarianceRatio":0}]}"#,
            #"{"kind":"layers","step":2,"layers":[{"name":"conv2","type":"Adder2d","gradNorm":1e308,"weightNorm":-1,"alpha":1e300,"outputMean":-1e308,"outputStd":1,"gradientMode":"fullPrecision/hardTanh"}]}"#,
            #"{"kind":"step","step":1e300,"epoch":1,"loss":1,"lr":0.1,"imagesPerSecond":1,"batchAccuracy":1,"time":3}"#,
            #"{"kind":"event","step":2,"event":"eta","detail":"-5","time":1e308}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let s = try RunReader.read(directory: dir)
        #expect(s.steps.map(\.step) == [1, 2])
        #expect(s.steps[0].epoch == 1e-300 && s.steps[0].loss.isNaN && s.steps[0].imagesPerSecond.isNaN && s.steps[0].batchAccuracy.isNaN)
        #expect(s.steps[1].loss.isNaN && s.evals[0].testAccuracy.isNaN && s.evals[0].testLoss.isNaN && s.evals[0].drift[0].meanGap.isNaN)
        #expect(s.layers[0].layers[0].gradNorm.isNaN && s.layers[0].layers[0].weightNorm.isNaN && s.layers[0].layers[0].alpha.isNaN)
        #expect(s.layers[0].layers[0].outputStd == 1 && s.layers[0].layers[0].outputMean.isNaN)
        #expect(s.skippedLines == 2 && s.invalidValues == 12)
        #expect(s.readProblems == "2 unreadable lines, 12 values out of range skipped")
        #expect(s.stepsPerEpoch == 1 && s.bestAccuracy == nil && s.finalLoss == nil)
        let table = Comparison(snapshots: [s])
        #expect(table.rows == [["t", "interrupted", "-", "-", "-", "2s", "100"]])
        #expect(formatDuration(.infinity) == "-" && formatDuration(1e300) == ">100y" && formatDuration(-1) == "-")
    }

    // MARK: 4 and 9. parsers: bounded and linear

    @Test func aliasBombIsRefusedAtOnceWithItsLine() {
        var yaml = "name: a\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { yaml += "l\(i): &l\(i) [" + Array(repeating: "*l\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        let start = Date()
        #expect(parseError(yaml) == "x.yaml:2: defines the YAML anchor '&l0'; experiment files do not support anchors and aliases (write the values out)")
        #expect(parseError("name: a\ndescription: *x") == "x.yaml:2: uses the YAML alias '*x'; experiment files do not support anchors and aliases (write the values out)")
        #expect(Date().timeIntervalSince(start) < 1)
    }

    /// The result of `body` and the seconds it took.
    func timed<T>(_ body: () -> T) -> (T, Double) {
        let start = Date()
        let r = body()
        return (r, Date().timeIntervalSince(start))
    }

    func loadError(_ path: String) -> String {
        do { _ = try Experiment.load(path: path); return "no error" } catch { return error.description }
    }

    @Test func hugeDeepAndKeyHeavyFilesAreRefusedFast() throws {
        let big = "name: a\ndescription: '" + String(repeating: "x", count: 50 << 20) + "'\n"
        let (bigError, bigTime) = timed { parseError(big) }
        #expect(bigError == "x.yaml: is 50.0 MiB; experiment and config files are at most 1.0 MiB" && bigTime < 1)
        let path = tempDir() + "/big.yaml"
        try big.write(toFile: path, atomically: false, encoding: .utf8)
        let (fileError, fileTime) = timed { loadError(path) }
        #expect(fileError == "\(path): is 50.0 MiB, more than the limit of 1.0 MiB" && fileTime < 0.5)
        #expect(loadError("/dev/zero") == "/dev/zero: is a character device, expected a regular file")
        let deep = "name: a\nx: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let (deepError, deepTime) = timed { parseError(deep) }
        #expect(deepError == "x.yaml:2: nests more than 32 levels deep" && deepTime < 1)
        let forty = "name: a\nx: " + String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        #expect(parseError(forty) == "x.yaml:2: x" + String(repeating: "[0]", count: 32) + ": nests more than 32 levels deep")
        // 40,000 keys: linear (the duplicate check was quadratic).
        let keys = "name: a\n" + (0..<40_000).map { "k\($0): 1" }.joined(separator: "\n")
        let (keysError, keysTime) = timed { parseError(keys) }
        #expect(keysError == "x.yaml:2: k0: is not a known key; expected one of adders, augment, batchSize, checkpointEvery, dataDir, dataset, description, epochs, evalEvery, gradient, layerStatsEvery, learningRate, model, name, optimizer, schedule, seed, testSamples, trainSamples, validationFraction")
        #expect(keysTime < 2, "\(keysTime) s")
        let depth = (0..<20_000).map { "k\($0)" }.joined(separator: ".")
        let (setError, setTime) = timed { parseError("name: a", overrides: [depth + "=1"]) }
        #expect(setError == "x.yaml: --set key '\(depth.prefix(100))' is not a key of an experiment: one to three names joined by dots, such as optimizer.lr" && setTime < 0.5)
    }

    @Test func duplicateKeysNameTheLineNotTheFile() {
        #expect(parseError("name: a\noptimizer:\n  lr: 0.1\n  lr: 0.2\n") == "x.yaml:4: optimizer.lr: appears twice (first at line 3); give each key once")
    }

    // MARK: 5. numbers out of range

    @Test(arguments: [
        ("epochs=9223372036854775807", "x.yaml: epochs: 9223372036854775807 is too large; it must be at most 100000"),
        ("epochs=99999999999999999999999", "x.yaml: epochs: 1e+23 is out of range; it must be a whole number from 1 to 100000"),
        ("schedule.stepSize=4611686018427387904", "x.yaml: schedule.stepSize: 4611686018427387904 is too large; it must be at most 100000"),
        ("batchSize=4611686018427387904", "x.yaml: batchSize: 4611686018427387904 is too large; it must be at most 65536"),
        ("seed=9223372036854775807", "x.yaml: seed: 9223372036854775807 is too large; it must be at most 9007199254740992"),
    ])
    func hugeNumbersAreRefusedWithTheirRange(set: String, expected: String) {
        #expect(parseError("name: a", overrides: [set]) == expected)
    }

    @Test func hugeGridsAreRefusedBeforeAnyDirectory() {
        let values = "[" + (0..<300).map(String.init).joined(separator: ", ") + "]"
        #expect(parseError("name: a\ngroup:\n  grid:\n    seed: \(values)\n    evalEvery: \(values)\n")
            == "x.yaml:5: group.grid: expands to more than 1000 runs; an experiment holds at most 1000 (split the sweep into several files)")
    }

    // MARK: 6. export

    @Test func exportNeverWritesItsSource() throws {
        let dir = try finishedRunDirectory()
        let metrics = dir + "/metrics.jsonl"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: metrics))
        bytes.append(contentsOf: [0x7B, 0xFF, 0x7D, 0x0A])  // "{\xFF}": not UTF-8
        try bytes.write(to: URL(fileURLWithPath: metrics))
        let parent = (dir as NSString).deletingLastPathComponent
        #expect(throws: RunError("cannot export \(dir) into \(parent): the copy would be \(dir), which is the run itself or inside it; choose another destination")) {
            _ = try RunExport.export(dir, into: parent, stepEvery: 10)
        }
        #expect(throws: RunError.self) { _ = try RunExport.export(dir, into: dir + "/inner", stepEvery: 1) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: metrics)) == bytes)
        // Elsewhere, every line is copied; the one it cannot read, unchanged.
        let target = try RunExport.export(dir, into: tempDir(), stepEvery: 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: target + "/metrics.jsonl")) == bytes)
    }

    // MARK: 7 and 8. resume

    /// An invalid byte after the last record: the resumed run records each step once.
    @Test func oneBadByteDoesNotBreakResume() throws {
        let dir = try checkpointedRun(rolledBack: true)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        try h.seekToEnd(); try h.write(contentsOf: Data([0xFF, 0x0A])); try h.close()
        #expect(try RunReader.read(directory: dir).steps.count == 40)
        let resumed = try TrainingRun(resuming: dir)
        resumed.start()
        #expect(resumed.wait().state == .finished)
        let s = try RunReader.read(directory: dir)
        #expect(s.steps.map(\.step) == Array(1...40) && s.skippedLines == 0)
        #expect(s.events.filter { $0.kind == .state }.map(\.detail) == ["running", "running", "finished"])
    }

    @Test func checkpointMetadataIsCrossChecked() throws {
        let dir = try checkpointedRun(rolledBack: true)
        let latest = URL(fileURLWithPath: dir + "/checkpoints/latest.safetensors")
        let (tensors, meta) = try Safetensors.read(from: latest)
        func resumeMessage(_ edit: (inout [String: String]) -> Void) throws -> String {
            var m = meta
            edit(&m)
            try Safetensors.write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: m, to: latest)
            // Only latest is offered: the epoch checkpoints are set aside.
            let run = try TrainingRun(resuming: dir)
            run.start()
            let s = run.wait()
            return s.state == .failed ? s.message : "resumed to \(s.state)"
        }
        for e in [1, 2] { try FileManager.default.moveItem(atPath: dir + "/checkpoints/epoch-\(e).safetensors", toPath: dir + "/aside-\(e)") }
        let adders = Model(.lenet5, placement: .paper).adderLayers.map(\.0).sorted().joined(separator: ", ")
        let prefix = "cannot resume \(dir): no usable checkpoint (latest.safetensors: "
        #expect(try resumeMessage { $0["step"] = "30" } == prefix + "metadata 'optimizer.steps' is '20', expected 30, the checkpoint's step)")
        #expect(try resumeMessage { $0["eta"] = "-5" } == prefix + "metadata 'eta' is '-5', expected a number > 0 and ≤ 1e6)")
        #expect(try resumeMessage { $0["trainSeen"] = "9223372036854775807" } == prefix + "metadata 'trainSeen' is '9223372036854775807', expected a count of images between 0 and 640)")
        var cnn = try String(contentsOfFile: dir + "/config.yaml", encoding: .utf8)
        cnn = cnn.replacingOccurrences(of: "adders: paper", with: "adders: cnn")
        try cnn.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(try resumeMessage { _ in } == prefix + "its adder layers (\(adders)) are not the model's (): config.yaml's adders 'cnn' does not match the checkpoint)")
        cnn = cnn.replacingOccurrences(of: "adders: cnn", with: "adders: paper").replacingOccurrences(of: "seed: 0", with: "seed: 7")
        try cnn.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(try resumeMessage { _ in } == prefix + "config.yaml was changed after the run started: seed is 7 in config.yaml but 0 in the checkpoint; restore it or start a new run)")
    }

    /// latest.safetensors gone, or a link loop: the newest epoch checkpoint is used, and said.
    @Test func aMissingLatestFallsBackToTheNewestEpochCheckpoint() throws {
        let dir = try checkpointedRun(rolledBack: false)
        let latest = dir + "/checkpoints/latest.safetensors"
        try FileManager.default.removeItem(atPath: latest)
        #expect(symlink(latest, latest) == 0)
        try FileManager.default.removeItem(atPath: dir + "/checkpoints/epoch-2.safetensors")
        try "".write(toFile: dir + "/checkpoints/.latest.safetensors.tmp-999999", atomically: false, encoding: .utf8)
        let run = try TrainingRun(resuming: dir)
        run.start()
        let s = run.wait()
        #expect(s.state == .finished, "\(s.message)")
        let event = s.events.first { $0.kind == .resumedFromCheckpoint }
        #expect(event?.detail == "step 20 of 40 from epoch-1.safetensors (skipped latest.safetensors: \(latest): a symbolic link loop (too many levels of symbolic links))")
        #expect(!FileManager.default.fileExists(atPath: dir + "/checkpoints/.latest.safetensors.tmp-999999"))
        #expect(try RunReader.read(directory: dir).steps.map(\.step) == Array(1...40))
    }

    @Test func resumingAFinishedRunAddsNothing() throws {
        let dir = try checkpointedRun(rolledBack: false)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        let run = try TrainingRun(resuming: dir)
        run.start()
        let s = run.wait()
        #expect(s.state == .failed && s.message == "\(dir) finished all 40 steps; there is nothing to resume")
        // Not a line added: no second evaluation, and the run still reads as finished.
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl")) == before)
        #expect(try RunReader.read(directory: dir).state == .finished)
    }

    @Test func checkpointShapesThatOverflowAreRefused() throws {
        let dir = tempDir()
        for shape in ["[4294967296, 4294967296]", "[2305843009213693952]", "[1,1,1,1,1,1,1,1,1]"] {
            var h = Data(#"{"x":{"dtype":"F32","shape":\#(shape),"data_offsets":[0,8]}}"#.utf8)
            while h.count % 8 != 0 { h.append(0x20) }
            var file = Data()
            withUnsafeBytes(of: UInt64(h.count).littleEndian) { file.append(contentsOf: $0) }
            file += h + Data(count: 8)
            let url = URL(fileURLWithPath: dir + "/x.safetensors")
            try file.write(to: url)
            let error = #expect(throws: SafetensorsError.self) { try Safetensors.read(from: url) }
            #expect(error?.problem.hasPrefix("tensor 'x' has shape") == true && error?.problem.hasSuffix("whose size overflows (at most 8 dimensions, fewer than 2^61 elements)") == true)
        }
    }

    // MARK: helpers

    /// A finished small run's directory.
    func finishedRunDirectory() throws -> String {
        let run = try TrainingRun(config: smallConfig("t", steps: 20), runsDirectory: tempDir())
        run.start()
        #expect(run.wait().state == .finished)
        return run.directory!
    }

    /// A finished run of 40 steps over 2 epochs (epoch-1 at step 20, epoch-2 and latest at
    /// 40); rolled back, latest holds step 20, as if the run had been killed after epoch 1.
    func checkpointedRun(rolledBack: Bool) throws -> String {
        let run = try TrainingRun(config: smallConfig("r", steps: 40, epochs: 2), runsDirectory: tempDir())
        run.start()
        #expect(run.wait().state == .finished)
        let dir = run.directory!
        if rolledBack {
            try FileManager.default.removeItem(atPath: dir + "/checkpoints/latest.safetensors")
            try FileManager.default.copyItem(atPath: dir + "/checkpoints/epoch-1.safetensors", toPath: dir + "/checkpoints/latest.safetensors")
        }
        return dir
    }
}
