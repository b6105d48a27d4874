import Foundation
import Testing
import AdderCore
import AdderNN
@testable import AdderTrain

/// Seeded mutation fuzzing of everything AdderLab reads from outside: experiment files,
/// config.yaml, metrics.jsonl and checkpoint headers. Every case must be read or
/// rejected with an error that names the file; a trap ends the test process, a hang
/// trips the time limit.
@Suite("Fuzzing the readers", .timeLimit(.minutes(2)))
struct FuzzTests {
    /// Pieces that YAML and JSON parsers treat specially, spliced in at random.
    static let tokens: [String] = [
        "&a ", "*a", "!!binary ", "!!str ", "!custom ", "[", "]", "{", "}", ": ", "- ", "? ", "---\n", "...\n", "\n  ", "\t", "#",
        "'", "\"", "\\", "|\n", ">\n", "%YAML 1.1\n", "9223372036854775807", "-9223372036854775808", "99999999999999999999999",
        "1e308", "1e999", "-0", "NaN", ".inf", "null", "~", "true", "\u{0}", "\u{FEFF}", "é", "🦀", ",", "<<: ", "0x1F", "1_000",
        "{\"a\":", "[[[[[[[[", "]]]]]]]]", "\u{202E}", "\r\n",
    ]

    static func mutate(_ text: [UInt8], _ g: inout SeededGenerator) -> [UInt8] {
        var b = text
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            let at = b.isEmpty ? 0 : Int.random(in: 0...b.count, using: &g)
            switch Int.random(in: 0..<6, using: &g) {
            case 0 where !b.isEmpty && at < b.count: b[at] = UInt8.random(in: 0...255, using: &g)
            case 1: b.insert(contentsOf: Array(tokens.randomElement(using: &g)!.utf8), at: at)
            case 2 where !b.isEmpty:
                let end = min(b.count, at + Int.random(in: 1...40, using: &g))
                if at < end { b.removeSubrange(at..<end) }
            case 3: b = Array(b.prefix(at))
            case 4 where !b.isEmpty:
                let start = Int.random(in: 0..<b.count, using: &g)
                let piece = b[start..<min(b.count, start + Int.random(in: 1...80, using: &g))]
                b.insert(contentsOf: piece, at: at)
            default:
                // Replace a number with an extreme one.
                let s = String(decoding: b, as: UTF8.self)
                if let r = s.range(of: #"-?[0-9]+(\.[0-9]+)?(e-?[0-9]+)?"#, options: .regularExpression) {
                    b = Array(s.replacingCharacters(in: r, with: tokens[21...27].randomElement(using: &g)!).utf8)
                }
            }
        }
        return b
    }

    static var experimentsDirectory: String { "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/experiments" }

    @Test func experimentFilesAndConfigs() throws {
        var g = SeededGenerator(seed: 13)
        let seeds = try FileManager.default.contentsOfDirectory(atPath: Self.experimentsDirectory).filter { $0.hasSuffix(".yaml") }.sorted()
            .map { Array(try String(contentsOfFile: Self.experimentsDirectory + "/" + $0, encoding: .utf8).utf8) }
        #expect(seeds.count >= 5)
        var accepted = 0, rejected = 0
        let dir = tempDir()
        for i in 0..<2500 {
            let bytes = Self.mutate(seeds[i % seeds.count], &g)
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                let e = try Experiment.parse(yaml: text, file: "fuzz.yaml")
                for r in e.runs { #expect(RunName.problem(r.name) == nil, "accepted a bad run name: \(r.name.debugDescription)") }
                accepted += 1
            } catch {
                #expect(error.description.hasPrefix("fuzz.yaml"), "\(error)")
                rejected += 1
            }
            // The same bytes as a run directory's config.yaml.
            if i % 5 == 0 {
                let run = dir + "/run\(i)"
                try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
                try Data(bytes).write(to: URL(fileURLWithPath: run + "/config.yaml"))
                do { _ = try RunDirectory.readConfig(run) } catch {
                    #expect(error.message.hasPrefix(run + "/config.yaml"), "\(error)")
                }
            }
        }
        // Both outcomes occur: the mutations are neither all harmless nor all fatal.
        #expect(accepted > 100 && rejected > 1000, "accepted \(accepted), rejected \(rejected)")
    }

    @Test func metricsFiles() throws {
        let run = try TrainingRun(config: smallConfig("fuzz", steps: 30), runsDirectory: tempDir())
        run.start()
        #expect(run.wait().state == .finished)
        let dir = run.directory!
        let original = try Data(contentsOf: URL(fileURLWithPath: dir + "/metrics.jsonl"))
        let lines = original.split(separator: 0x0A).map { Array($0) }
        var g = SeededGenerator(seed: 7)
        var skipped = 0
        for _ in 0..<600 {
            var file: [UInt8] = []
            for line in lines {
                let l = Int.random(in: 0..<8, using: &g) == 0 ? Self.mutate(line, &g) : line
                file += l + [0x0A]
            }
            if Bool.random(using: &g) { file = Array(file.prefix(Int.random(in: 0...file.count, using: &g))) }
            try Data(file).write(to: URL(fileURLWithPath: dir + "/metrics.jsonl"))
            let snap = try RunReader.read(directory: dir)
            skipped += snap.skippedLines
            // Every value a reader shows is in range or missing.
            for s in snap.steps {
                #expect(s.step >= 0 && s.epoch.isFinite && s.time.isFinite && !(s.loss < 0) && !(s.batchAccuracy > 1))
            }
            for e in snap.evals { #expect(!(e.testAccuracy > 1 || e.testAccuracy < 0) && !(e.testLoss < 0)) }
            _ = Comparison(snapshots: [snap, snap]).rows
            _ = Comparison(snapshots: [snap]).markdown()
            _ = snap.remainingSeconds.map(formatDuration)
        }
        #expect(skipped > 100)
        // Followed in small chunks, the same file reads the same.
        var follower = MetricsFile(path: dir + "/metrics.jsonl")
        while follower.update(chunk: 97) {}
        var whole = MetricsFile(path: dir + "/metrics.jsonl")
        whole.readToEnd()
        // (As JSON text: a value read as missing is NaN, and NaN != NaN.)
        #expect(follower.history.steps.map { JSON.encode($0.json) } == whole.history.steps.map { JSON.encode($0.json) })
        #expect(follower.history.evals.map { JSON.encode($0.json) } == whole.history.evals.map { JSON.encode($0.json) })
        #expect(follower.history.skippedLines == whole.history.skippedLines && follower.history.invalidValues == whole.history.invalidValues)
    }

    @Test func checkpointHeaders() throws {
        let model = Model(.lenet5, placement: .paper)
        let url = URL(fileURLWithPath: tempDir() + "/c.safetensors")
        try Checkpoint.save(model: model, optimizer: nil, metadata: ["step": "1"], to: url)
        let good = try Data(contentsOf: url)
        let headerLength = Int(good.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
        let header = Array(good[8..<(8 + headerLength)])
        let body = good.suffix(from: 8 + headerLength)
        var g = SeededGenerator(seed: 11)
        var loaded = 0
        for i in 0..<1500 {
            // Case 0 is the file as written: it must load.
            var h = i == 0 ? header : Self.mutate(header, &g)
            var length = UInt64(h.count)
            if i % 50 == 49 { length = UInt64.random(in: 0...UInt64.max, using: &g) }
            while h.count % 8 != 0 { h.append(0x20) }
            var file = Data()
            withUnsafeBytes(of: length.littleEndian) { file.append(contentsOf: $0) }
            file += Data(h) + body
            try file.write(to: url)
            do {
                let (tensors, _) = try Safetensors.read(from: url)
                do { _ = try Checkpoint.load(from: url, into: model, optimizer: nil); loaded += 1 } catch {
                    if i == 0 { Issue.record("the unmutated checkpoint: \(error)") }
                }
                for (_, t) in tensors { #expect(t.count == t.shape.reduce(1, *)) }
            } catch {
                #expect(error.path == url.path && !error.problem.isEmpty)
            }
        }
        #expect(loaded > 0)
    }
}

@Suite("Following a metrics file")
struct MetricsFollowerTests {
    /// Lines longer than a chunk are read whole; a line longer than the limit is skipped
    /// to its newline and counted; a torn last line waits for its end.
    @Test func chunksNeverCutALine() throws {
        let path = tempDir() + "/metrics.jsonl"
        let step = #"{"kind":"step","step":1,"epoch":0.5,"loss":2.0,"lr":0.1,"imagesPerSecond":10.0,"batchAccuracy":0.5,"time":1.0}"#
        let overlong = "{\"kind\":\"event\",\"step\":1,\"event\":\"x\",\"detail\":\"" + String(repeating: "y", count: MetricsFile.maximumLine) + "\",\"time\":1}"
        let torn = #"{"kind":"step","step":3,"ep"#
        try (step + "\n" + overlong + "\n" + step.replacingOccurrences(of: "\"step\":1", with: "\"step\":2") + "\n" + torn).write(toFile: path, atomically: true, encoding: .utf8)
        var m = MetricsFile(path: path)
        while m.update(chunk: 50) {}
        #expect(m.history.steps.map(\.step) == [1, 2] && m.history.skippedLines == 1)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try h.seekToEnd(); try h.write(contentsOf: Data("och\":1,\"time\":3}\n".utf8)); try h.close()
        let grew = m.update(chunk: 50)
        #expect(grew && m.history.steps.map(\.step) == [1, 2, 3] && m.history.skippedLines == 1)
        #expect(m.history.steps[2].epoch == 1 && m.history.steps[2].loss.isNaN)
    }
}

@Suite("JSON lines")
struct JSONLineTests {
    /// The value as plain Foundation objects, to compare with JSONSerialization's.
    func plain(_ v: JSONLine.Value) -> NSObject {
        switch v {
        case .number(let d): return NSNumber(value: d)
        case .string(let s): return s as NSString
        case .bool(let b): return NSNumber(value: b)
        case .null: return NSNull()
        case .array(let a): return a.map(plain) as NSArray
        case .object(let o): return o.mapValues(plain) as NSDictionary
        }
    }

    @Test func agreesWithJSONSerializationOnMutatedRecords() {
        let records = [
            #"{"kind":"step","step":12,"epoch":0.12,"loss":2.302585092994046,"lr":0.1,"imagesPerSecond":4321.5,"batchAccuracy":0.125,"time":1.5e-3}"#,
            #"{"kind":"event","step":3,"event":"gradientMode","detail":"sign/sign (conv2) \u00e9\ud83e\udd80 \"q\" \\ \/ \t","time":0}"#,
            #"{"kind":"eval","step":1,"batchNormDrift":[{"name":"bn1","meanGap":-1E+2,"logVarianceRatio":null}],"x":[true,false,[],{}]}"#,
        ]
        var g = SeededGenerator(seed: 5)
        var compared = 0
        for i in 0..<3000 {
            var bytes = Array(records[i % records.count].utf8)
            if i >= records.count { bytes = FuzzTests.mutate(bytes, &g) }
            let data = Data(bytes)
            let ours = JSONLine.parse(data)
            let theirs = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            if let ours, let theirs = theirs as? NSObject {
                // Both read it: the same value (numbers compared as doubles).
                #expect(plain(ours).isEqual(theirs) || "\(plain(ours))" == "\(theirs)", "\(String(decoding: bytes, as: UTF8.self))")
                compared += 1
            } else if ours != nil && !String(decoding: bytes, as: UTF8.self).contains("e999") {
                // (A number beyond Double reads as ±inf here, for the range checks to refuse.)
                Issue.record("read what JSONSerialization refuses: \(String(decoding: bytes, as: UTF8.self))")
            }
        }
        #expect(compared > 200)
        #expect(JSONLine.parse(Data("[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]".utf8)) == nil)  // deeper than 16
        #expect(JSONLine.parse(Data("{\"a\":1} x".utf8)) == nil && JSONLine.parse(Data("01".utf8)) == nil && JSONLine.parse(Data("1e999".utf8))?.double == .infinity)
    }
}
