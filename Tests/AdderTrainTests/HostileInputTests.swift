import Foundation
import Synchronization
import Testing
import AdderTestSupport
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

    /// Every append reports ENOSPC instead of trapping (FileHandle.write did `try!`).
    @Test func appendsReportAFullDevice() throws {
        let fd = open("/dev/full", O_WRONLY)
        defer { close(fd) }
        #expect(throws: RunError("cannot write /dev/full: write: no space left on device")) {
            try RunDirectory.appendWhole(Data("{}\n".utf8), fd: fd, path: "/dev/full")
        }
    }

    /// A real full disk: a small tmpfs as the runs directory. The run stops with the
    /// reason, metrics.jsonl ends with a whole record, and the last complete checkpoint
    /// stays and loads.
    @Test(.enabled(if: HostileInputTests.canMountTmpfs(), "needs root and mount(2) for a small tmpfs"))
    func fullDiskStopsTheRunAndKeepsWhatWasWritten() throws {
        for (size, checkpointEvery) in [("48k", 0), ("900k", 5)] {
            let runs = tempDir()
            #expect(HostileInputTests.mountTmpfs(runs, size: size))
            defer { umount(runs) }
            let run = try TrainingRun(config: smallConfig("disk", steps: 60, set: ["checkpointEvery=\(checkpointEvery)"]), runsDirectory: runs)
            run.start()
            let snap = run.wait()
            let dir = run.directory!
            #expect(snap.state == .failed)
            if checkpointEvery == 0 {
                // A record fills the disk first (metrics.jsonl, histograms.jsonl, the TensorBoard file or run.log).
                let file = snap.message.dropFirst("cannot write \(dir)/".count).prefix { $0 != ":" }
                #expect(snap.message == "cannot write \(dir)/\(file): write: no space left on device", "\(snap.message)")
                #expect(file == "metrics.jsonl" || file == "histograms.jsonl" || file == "run.log" || file.hasPrefix("events.out.tfevents."))
            } else {
                // A second checkpoint does not fit beside the first: the first stays.
                #expect(snap.message.hasPrefix("checkpoint failed: \(dir)/checkpoints/latest.safetensors: cannot write: "), "\(snap.message)")
                #expect(snap.message.hasSuffix(": no space left on device"), "\(snap.message)")
                let meta = try Safetensors.read(from: URL(fileURLWithPath: dir + "/checkpoints/latest.safetensors")).metadata
                #expect(meta["step"] == "5")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/checkpoints") == ["latest.safetensors"])
            }
            let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl"))
            #expect(bytes.last == 0x0A)
            let reread = try RunReader.read(directory: dir)
            #expect(reread.skippedLines == 0 && reread.steps.map(\.step) == Array(1...reread.steps.count) && !reread.steps.isEmpty)
        }
    }

    static func mountTmpfs(_ path: String, size: String) -> Bool {
        mount("tmpfs", path, "tmpfs", 0, "size=\(size)") == 0
    }

    static func canMountTmpfs() -> Bool {
        guard getuid() == 0 else { return false }
        let probe = temporaryDirectory("mount")
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard mountTmpfs(probe, size: "16k") else { return false }
        umount(probe)
        return true
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
        #expect(keysError == "x.yaml:2: k0: is not a known key; expected one of adders, augment, batchNorm, batchSize, checkpointEvery, dataDir, dataset, description, epochs, evalEvery, featureDimensions, gradient, histogramEvery, layerStatsEvery, learningRate, model, name, optimizer, schedule, seed, testSamples, trainSamples, validationFraction")
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
        ("epochs=9223372036854775807", "--set epochs=9223372036854775807: epochs: 9223372036854775807 is too large; it must be at most 100000"),
        ("epochs=99999999999999999999999", "--set epochs=99999999999999999999999: epochs: 1e+23 is out of range; it must be a whole number from 1 to 100000"),
        ("schedule.stepSize=4611686018427387904", "--set schedule.stepSize=4611686018427387904: schedule.stepSize: 4611686018427387904 is too large; it must be at most 100000"),
        ("batchSize=4611686018427387904", "--set batchSize=4611686018427387904: batchSize: 4611686018427387904 is too large; it must be at most 65536"),
        ("seed=9223372036854775807", "--set seed=9223372036854775807: seed: 9223372036854775807 is too large; it must be at most 9007199254740992"),
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

    // MARK: the second attack (on the fixed build)

    /// Links planted in a run directory cannot send a resumed run's writes elsewhere.
    @Test func linksInARunDirectoryAreRefused() throws {
        let dir = try checkpointedRun(rolledBack: true)
        let elsewhere = tempDir()
        let checkpoints = dir + "/checkpoints"
        try FileManager.default.moveItem(atPath: checkpoints, toPath: elsewhere + "/ck")
        #expect(symlink(elsewhere + "/ck", checkpoints) == 0)
        let run = try TrainingRun(resuming: dir)
        run.start()
        let s = run.wait()
        #expect(s.state == .failed && s.message == "\(checkpoints) is a symbolic link; a run writes only files inside its directory")
        try FileManager.default.removeItem(atPath: checkpoints)
        try FileManager.default.moveItem(atPath: elsewhere + "/ck", toPath: checkpoints)
        let log = dir + "/run.log"
        try FileManager.default.moveItem(atPath: log, toPath: elsewhere + "/log")
        #expect(symlink(elsewhere + "/log", log) == 0)
        let again = try TrainingRun(resuming: dir)
        again.start()
        #expect(again.wait().message == "\(log) is a symbolic link; a run writes only files inside its directory")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere) == ["log"])
    }

    /// "runs/V/checkpoints/.." is V: the copy is named V, and another run already at the
    /// destination is never replaced.
    @Test func exportNamesTheCopyAfterTheRunAndReplacesNoOtherRun() throws {
        let v = try finishedRunDirectory("v"), y = try finishedRunDirectory("y")
        let yConfig = try Data(contentsOf: URL(fileURLWithPath: y + "/config.yaml"))
        let target = try RunExport.export(v + "/checkpoints/..", into: y + "/checkpoints", stepEvery: 1)
        #expect(target == y + "/checkpoints/" + (v as NSString).lastPathComponent)
        #expect(try Data(contentsOf: URL(fileURLWithPath: y + "/config.yaml")) == yConfig)
        // Y's own name at a destination holding a different run of that name: refused.
        var other = try String(contentsOfFile: y + "/config.yaml", encoding: .utf8)
        other = other.replacingOccurrences(of: "seed: 0", with: "seed: 5")
        #expect(other.contains("seed: 5"))
        let out = tempDir()
        try FileManager.default.createDirectory(atPath: out + "/" + (y as NSString).lastPathComponent, withIntermediateDirectories: true)
        try other.write(toFile: out + "/" + (y as NSString).lastPathComponent + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(throws: RunError("cannot export \(y) to \(out)/\((y as NSString).lastPathComponent): a different run is there already; choose another destination")) {
            _ = try RunExport.export(y, into: out, stepEvery: 1)
        }
        // An earlier copy of the same run is brought up to date.
        let first = try RunExport.export(v, into: out, stepEvery: 10)
        #expect(try RunExport.export(v, into: out, stepEvery: 1) == first)
    }

    /// Strings with control characters, line breaks and odd Unicode are written to
    /// config.yaml so that they read back as they were.
    @Test func configYamlRoundTripsEveryString() throws {
        let odd = ["red \u{1B}[31m", "bell\u{07}", "a\nb\n\nc", "cr\r", "del\u{7F}", "nel\u{85}", "ls\u{2028}", "bom\u{FEFF}", "fffe\u{FFFE}",
                   "quote ' and \" and \\", "- dash", "? q", "# hash", "key: value", "  spaces  ", "1e3", "true", "null", "~", "", "🦀 é"]
        for text in odd {
            var c = smallConfig()
            c.description = text
            c.dataDir = "/x/" + text
            let back = try ExperimentConfig(tree: try ConfigValue.parse(yaml: c.tree.yaml()))
            #expect(back.description == text && back.dataDir == "/x/" + text, "\(text.debugDescription) → \(c.tree.yaml())")
        }
    }

    /// Resumed without any checkpoint, a run starts again from step 0 and keeps the
    /// records (and histograms) written before in files of their own.
    @Test func restartingWithoutACheckpointKeepsTheOldRecords() throws {
        let dir = try checkpointedRun(rolledBack: false)
        let before = try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        let histogramsBefore = try Data(contentsOf: URL(fileURLWithPath: dir + "/histograms.jsonl"))
        #expect(!histogramsBefore.isEmpty)
        try FileManager.default.removeItem(atPath: dir + "/checkpoints")
        let run = try TrainingRun(resuming: dir)
        run.start()
        let s = run.wait()
        #expect(s.state == .finished, "\(s.message)")
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("metrics-before-restart-") }
        #expect(kept.count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + kept[0])) == before)
        let keptHistograms = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("histograms-before-restart-") }
        #expect(keptHistograms.count == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + keptHistograms[0])) == histogramsBefore)
        #expect(s.events.first { $0.kind == .resumedFromCheckpoint }?.detail
                == "no checkpoint: started again from step 0; the 40 steps recorded before are in \(kept[0]) (histograms in \(keptHistograms[0]))")
        #expect(try RunReader.read(directory: dir).steps.map(\.step) == Array(1...40))
    }

    @Test(arguments: [
        ("name: a\nepochs: \"1\"", "x.yaml:2: epochs: must be a whole number from 1 to 100000, found the string '1' (write it without quotes)"),
        ("name: a\nepochs: 1.0", "x.yaml:2: epochs: must be a whole number from 1 to 100000, found 1.0"),
        ("name: a\nepochs: ~", "x.yaml:2: epochs: is null (or empty); give it a value or leave the key out for the default"),
        ("name: a\nseed: null", "x.yaml:2: seed: is null (or empty); give it a value or leave the key out for the default"),
        ("name: a\nepochs: !!bool 1", "x.yaml:2: epochs: is tagged !!bool but its value '1' is not one"),
        ("name: a\nlearningRate: {eta: 1e-320}", "x.yaml:2: learningRate.eta: 1e-320 cannot be held by a 32-bit float (magnitudes from about 1e-38 to 3e38)"),
    ])
    func valuesAreNeverSilentlyDefaulted(yaml: String, expected: String) {
        #expect(parseError(yaml) == expected)
    }

    @Test func setWithoutAValueIsAnError() {
        #expect(parseError("name: a", overrides: ["epochs="]) == "--set epochs=: epochs: is null (or empty); give it a value or leave the key out for the default")
    }

    @Test func resumeNeedsTheCheckpointsConfigurationAndNamesEveryChange() throws {
        let dir = try checkpointedRun(rolledBack: true)
        for e in [1, 2] { try FileManager.default.removeItem(atPath: dir + "/checkpoints/epoch-\(e).safetensors") }
        let latest = URL(fileURLWithPath: dir + "/checkpoints/latest.safetensors")
        let (tensors, meta) = try Safetensors.read(from: latest)
        let prefix = "cannot resume \(dir): no usable checkpoint (latest.safetensors: "
        func message() throws -> String {
            let run = try TrainingRun(resuming: dir)
            run.start()
            return run.wait().message
        }
        let config = try String(contentsOfFile: dir + "/config.yaml", encoding: .utf8)
        try config.replacingOccurrences(of: "name: r", with: "name: other").write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        #expect(try message() == prefix + "config.yaml was changed after the run started: name is other in config.yaml but r in the checkpoint; restore it or start a new run)")
        try config.write(toFile: dir + "/config.yaml", atomically: true, encoding: .utf8)
        var m = meta
        m["config"] = nil
        try Safetensors.write(tensors.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, metadata: m, to: latest)
        #expect(try message() == prefix + "metadata 'config' is '(missing)', expected the run's configuration (a checkpoint without it cannot be checked against config.yaml))")
    }

    @Test func bytesAfterTheLastTensorAreRefused() throws {
        let url = URL(fileURLWithPath: tempDir() + "/c.safetensors")
        try Checkpoint.save(model: Model(.lenet5), optimizer: nil, to: url)
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd(); try h.write(contentsOf: Data(count: 100)); try h.close()
        let error = #expect(throws: SafetensorsError.self) { try Safetensors.read(from: url) }
        #expect(error?.problem.hasPrefix("100 bytes follow the last tensor's data (the header accounts for ") == true, "\(String(describing: error))")
    }

    // MARK: the third attack

    @Test func restartsInOneSecondKeepEveryOldRecord() throws {
        let files = RunFiles(tempDir())
        let first = files.metricsBeforeRestart
        try "a\n".write(toFile: first, atomically: false, encoding: .utf8)
        let second = files.metricsBeforeRestart
        #expect(second != first && (second.hasSuffix("-2.jsonl") || !second.hasPrefix(String(first.dropLast(6)))))
    }

    @Test func exportNeverReplacesARunDirectoryOrFollowsALink() throws {
        let run = try finishedRunDirectory("live")
        let copy = try RunExport.export(run, into: tempDir(), stepEvery: 10)
        let parent = (run as NSString).deletingLastPathComponent
        #expect(throws: RunError("cannot export \(copy) to \(run): it is a run directory (it holds checkpoints), not an earlier export; choose another destination")) {
            _ = try RunExport.export(copy, into: parent, stepEvery: 1)
        }
        let dest = tempDir(), outside = tempDir()
        #expect(symlink(outside, dest + "/" + (run as NSString).lastPathComponent) == 0)
        #expect(throws: RunError("cannot export \(run) to \(dest)/\((run as NSString).lastPathComponent): it is a symbolic link")) {
            _ = try RunExport.export(run, into: dest, stepEvery: 1)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        #expect(throws: RunError("the destination is empty; name a directory to export into")) { _ = try RunExport.export(run, into: "", stepEvery: 1) }
    }

    @Test func lockFilesThatAreNotFilesOrSayNothingUseful() throws {
        let dir = try finishedRunDirectory("lock")
        let lock = dir + "/.lock"
        try? FileManager.default.removeItem(atPath: lock)
        #expect(mkfifo(lock, 0o644) == 0)
        #expect(RunLock.holder(of: dir) == nil)  // returns at once: no hang on the FIFO
        #expect(throws: RunError("\(lock) is not a regular file; remove it (a run directory's lock is a small text file)")) { _ = try RunLock(directory: dir) }
        try FileManager.default.removeItem(atPath: lock)
        #expect(symlink("/tmp/elsewhere", lock) == 0)
        #expect(throws: RunError("\(lock) is a symbolic link; a run writes only files inside its directory")) { _ = try RunLock(directory: dir) }
        try FileManager.default.removeItem(atPath: lock)
        // Held, with hostile text: the holder is not believed.
        let held = try RunLock(directory: dir)
        for text in ["evil\u{1B}[2J 1 1800000000", "h 1 -1e300", "h -5 1e9", ""] {
            try text.write(toFile: lock, atomically: false, encoding: .utf8)
            #expect(RunLock.holder(of: dir) == .unknown, "\(text.debugDescription)")
        }
        #expect(RunLock.Holder.unknown.description == "its lock file does not say which")
        // While held, readers show the run as training elsewhere, not interrupted.
        try "vm 4242 1800000000".write(toFile: lock, atomically: false, encoding: .utf8)
        let s = try RunReader.read(directory: dir)
        #expect(s.state == .finished)  // finished is final
        withExtendedLifetime(held) {}
    }

    @Test func aRunHeldElsewhereReadsAsRunning() throws {
        let dir = try checkpointedRun(rolledBack: true)
        // Cut the file back to before "finished", as a run still training would have it.
        try RunDirectory.truncateMetrics(in: dir, after: 20)
        #expect(try RunReader.read(directory: dir).state == .interrupted)
        let held = try RunLock(directory: dir)
        let s = try RunReader.read(directory: dir)
        #expect(s.state == .running && s.message == "training in another process (\(RunLock.holder(of: dir)!))")
        withExtendedLifetime(held) {}
    }

    @Test func resumeKeepsLinesItCannotReadBetweenRecords() throws {
        let dir = try checkpointedRun(rolledBack: true)
        let path = dir + "/metrics.jsonl"
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        let note = #"{"kind":"note","step":5,"text":"from a newer version"}"#
        lines.insert(note, at: 3)
        try (lines.joined(separator: "\n") + "\n{\"kind\":\"st").write(toFile: path, atomically: true, encoding: .utf8)
        try RunDirectory.truncateMetrics(in: dir, after: 20)
        let kept = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(kept[3] == note && kept.last!.hasPrefix("{\"kind\":\"") && !kept.contains("{\"kind\":\"st"))
        #expect(try RunReader.read(directory: dir).steps.map(\.step) == Array(1...20))
    }

    @Test func anUnreadableMetricsFileIsNamed() throws {
        let dir = try finishedRunDirectory("fifo")
        try FileManager.default.removeItem(atPath: dir + "/metrics.jsonl")
        #expect(mkfifo(dir + "/metrics.jsonl", 0o644) == 0)
        #expect(try RunReader.read(directory: dir).readProblems == "unreadable: is a FIFO (named pipe), expected a regular file")
    }

    // MARK: the review

    /// η outside what a checkpoint may hold is refused live too, so every checkpoint resumes.
    @Test func etaBeyondItsRangeIsIgnoredLive() throws {
        let run = try TrainingRun(config: smallConfig("eta", steps: 30, set: ["learningRate.eta=1000000"]), runsDirectory: nil)
        run.setEta(1.25e6)
        run.setEta(-1)
        run.start()
        let s = run.wait()
        #expect(s.state == .finished && s.eta == 1e6 && !s.events.contains { $0.kind == .eta })
    }

    /// A restart keeps any non-empty metrics file, even one with no line it can read.
    @Test func restartKeepsAFileOfUnreadableLines() throws {
        let dir = try checkpointedRun(rolledBack: false)
        try FileManager.default.removeItem(atPath: dir + "/checkpoints")
        try "{\"kind\":\"fromTheFuture\",\"step\":3}\n".write(toFile: dir + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let run = try TrainingRun(resuming: dir)
        run.start()
        #expect(run.wait().state == .finished)
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix("metrics-before-restart-") }
        #expect(kept.count == 1)
        #expect(try String(contentsOfFile: dir + "/" + kept[0], encoding: .utf8) == "{\"kind\":\"fromTheFuture\",\"step\":3}\n")
    }

    @Test func metadataIsReadWithoutTheTensors() throws {
        let url = URL(fileURLWithPath: tempDir() + "/c.safetensors")
        try Checkpoint.save(model: Model(.lenet5), optimizer: nil, metadata: ["step": "3"], to: url)
        #expect(try Safetensors.readMetadata(from: url) == Safetensors.read(from: url).metadata)
        #expect(try Checkpoint.read(metadataOf: url)["step"] == "3")
    }

    // MARK: helpers

    /// A finished small run's directory.
    func finishedRunDirectory(_ name: String = "t") throws -> String {
        let run = try TrainingRun(config: smallConfig(name, steps: 20), runsDirectory: tempDir())
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
