import AdderCore
import Foundation

/// The 2-D features of a fixed set of test images at one evaluation (the paper's Fig. 1):
/// the feature layer's output for the first `FeatureRecord.sampleCount` test images — the
/// same images at every evaluation, so frames compare — with their labels. A run whose
/// model has a 2-unit feature layer (`featureDimensions: 2`) appends one per evaluation to
/// features.jsonl, one JSON line each:
///
///     {"step":469,"epoch":1.0,"x":[0.1234,-2.5,…],"y":[…],"label":[3,0,…]}
///
/// coordinates with 4 significant digits, so 2,000 points take about 35 KB.
public struct FeatureRecord: Sendable, Equatable {
    public var step: Int
    public var epoch: Double
    public var x: [Float]
    public var y: [Float]
    public var labels: [Int]

    public init(step: Int, epoch: Double, x: [Float], y: [Float], labels: [Int]) {
        self.step = step; self.epoch = epoch; self.x = x; self.y = y; self.labels = labels
    }

    /// Test images recorded per evaluation (fewer when the test set is smaller).
    public static let sampleCount = 2_000
    /// Bounds a reader holds a record to.
    public static let maximumPoints = 100_000
    public static let maximumLabel = 999
    public static let maximumCoordinate: Float = 1e30
    static let maximumStep = 1 << 40
    static let maximumEpoch = 1e9

    public var count: Int { labels.count }

    /// The record as one JSON line, without its newline. Non-finite coordinates (a run about
    /// to diverge) are written as null, which a reader refuses.
    public var jsonLine: String {
        func number(_ v: Float) -> String { v.isFinite ? String(format: "%.4g", Double(v)) : "null" }
        var s = "{\"step\":\(step),\"epoch\":\(String(format: "%.4g", epoch)),\"x\":["
        s.reserveCapacity(count * 20 + 64)
        s += x.map(number).joined(separator: ",") + "],\"y\":["
        s += y.map(number).joined(separator: ",") + "],\"label\":["
        s += labels.map(String.init).joined(separator: ",") + "]}"
        return s
    }

    /// The record on one line, or why it is not one (every number range-checked).
    static func decode(_ line: Data) -> Result<FeatureRecord, FeatureLineProblem> {
        guard line.count <= FeaturesFile.maximumLine else { return .failure(.init("the line is longer than \(FeaturesFile.maximumLine) bytes")) }
        guard line.first(where: { $0 != 0x20 && $0 != 0x09 }) == UInt8(ascii: "{"), let o = JSONLine.parse(line) else {
            return .failure(.init("not a JSON object"))
        }
        guard let s = o["step"]?.double, s >= 0, s <= Double(maximumStep), s == s.rounded() else {
            return .failure(.init("step is missing or not a whole number from 0 to \(maximumStep)"))
        }
        guard let epoch = o["epoch"]?.double, epoch >= 0, epoch <= maximumEpoch else {
            return .failure(.init("epoch is missing or not a number from 0 to \(Int(maximumEpoch))"))
        }
        func coordinates(_ key: String) -> Result<[Float], FeatureLineProblem> {
            guard let a = o[key]?.array else { return .failure(.init("\(key) is missing or not a list")) }
            guard a.count <= maximumPoints else { return .failure(.init("\(key) has more than \(maximumPoints) points")) }
            var out: [Float] = []
            out.reserveCapacity(a.count)
            for (i, v) in a.enumerated() {
                guard let d = v.double, abs(d) <= Double(maximumCoordinate) else {
                    return .failure(.init("\(key)[\(i)] is not a number within ±\(maximumCoordinate)"))
                }
                out.append(Float(d))
            }
            return .success(out)
        }
        let xs: [Float], ys: [Float]
        switch coordinates("x") { case .success(let v): xs = v; case .failure(let p): return .failure(p) }
        switch coordinates("y") { case .success(let v): ys = v; case .failure(let p): return .failure(p) }
        guard let a = o["label"]?.array else { return .failure(.init("label is missing or not a list")) }
        var labels: [Int] = []
        labels.reserveCapacity(a.count)
        for (i, v) in a.enumerated() {
            guard let d = v.double, d >= 0, d <= Double(maximumLabel), d == d.rounded() else {
                return .failure(.init("label[\(i)] is not a whole number from 0 to \(maximumLabel)"))
            }
            labels.append(Int(d))
        }
        guard xs.count == ys.count, ys.count == labels.count else {
            return .failure(.init("x, y and label have \(xs.count), \(ys.count) and \(labels.count) entries; they must be as many"))
        }
        return .success(FeatureRecord(step: Int(s), epoch: epoch, x: xs, y: ys, labels: labels))
    }
}

/// Why one line of features.jsonl was skipped.
public struct FeatureLineProblem: Error, Sendable, Equatable {
    public let message: String
    init(_ message: String) { self.message = message }
}

/// A features.jsonl read from its start and followed as it grows: each `update` reads the
/// bytes appended since the last one (at most a chunk), and starts over when the file was
/// replaced (a resume rewrites it). A line that is not a valid record is skipped and named
/// with its line number in `problems`; a torn last line waits for its newline. At most
/// `maximumRecords` records are kept, the newest.
public struct FeaturesFile {
    public let path: String
    public private(set) var records: [FeatureRecord] = []
    /// "features.jsonl:4: label[12] is not a whole number …", at most `maximumProblems`.
    public private(set) var problems: [String] = []
    /// Lines skipped in all (problems keeps only the first few).
    public private(set) var skippedLines = 0
    private var offset = 0
    private var lineNumber = 0
    private var inode: UInt64?
    private var discarding = false

    public static let maximumLine = 4 << 20
    public static let maximumRecords = 1_000
    static let maximumProblems = 20

    public init(path: String) { self.path = path }

    /// Reads what was appended since the last call, at most `chunk` bytes (at least one
    /// whole line); true when anything changed. A missing file reads as empty.
    @discardableResult
    public mutating func update(chunk: Int = 8 << 20) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            let had = offset > 0 || !problems.isEmpty
            self = FeaturesFile(path: path)
            if InputFile.entryExists(path) {
                do { _ = try InputFile.size(path) } catch { problems = ["\(error)"] }
            }
            return had
        }
        var reset = false
        if inode != UInt64(st.st_ino) || Int(st.st_size) < offset {
            reset = inode != nil
            self = FeaturesFile(path: path)
            inode = UInt64(st.st_ino)
        }
        let available = Int(st.st_size) - offset
        guard available > 0 else { return reset }
        let want = min(available, max(chunk, FeaturesFile.maximumLine + 1))
        guard let data = try? InputFile.read(path, from: offset, atMost: want) else { return reset }
        var consumed = 0
        if discarding {
            guard let nl = data.firstIndex(of: 0x0A) else { offset += data.count; return true }
            consumed = nl + 1 - data.startIndex
            discarding = false
        }
        let rest = data[(data.startIndex + consumed)...]
        // Every complete line, empty ones counted too, so that problems name the right line.
        var used = 0, start = rest.startIndex
        while let nl = rest[start...].firstIndex(of: 0x0A) {
            lineNumber += 1
            if nl > start { add(rest[start..<nl]) }
            start = nl + 1
            used = start - rest.startIndex
        }
        consumed += used
        if used == 0 && rest.count > FeaturesFile.maximumLine {
            lineNumber += 1
            skip("the line is longer than \(FeaturesFile.maximumLine) bytes")
            discarding = true
            consumed = data.count
        }
        offset += consumed
        return consumed > 0 || reset
    }

    /// Reads the whole file.
    public mutating func readToEnd() { while update() {} }

    private mutating func skip(_ why: String) {
        skippedLines += 1
        if problems.count < FeaturesFile.maximumProblems {
            problems.append("\((path as NSString).lastPathComponent):\(lineNumber): \(why); line skipped")
        }
    }

    private mutating func add(_ line: Data) {
        switch FeatureRecord.decode(line) {
        case .success(let r):
            records.append(r)
            if records.count > FeaturesFile.maximumRecords { records.removeFirst(records.count - FeaturesFile.maximumRecords) }
        case .failure(let p):
            skip(p.message)
        }
    }
}
