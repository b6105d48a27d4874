import CZlib
import Foundation
import Testing
import AdderCore
import AdderTestSupport
@testable import AdderData

func tempDir() -> String { temporaryDirectory("data") }

/// An IDX file of unsigned bytes.
func idxBytes(_ dims: [Int], _ body: [UInt8]) -> Data {
    var d = Data([0, 0, 0x08, UInt8(dims.count)])
    for v in dims { d.append(contentsOf: [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)]) }
    return d + Data(body)
}

func gzip(_ data: Data) -> Data {
    var stream = z_stream()
    deflateInit2_(&stream, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    var out = [UInt8](repeating: 0, count: data.count + 1024)
    var input = [UInt8](data)
    input.withUnsafeMutableBufferPointer { i in
        out.withUnsafeMutableBufferPointer { o in
            stream.next_in = i.baseAddress; stream.avail_in = uInt(i.count)
            stream.next_out = o.baseAddress; stream.avail_out = uInt(o.count)
            deflate(&stream, Z_FINISH)
        }
    }
    let n = Int(stream.total_out)
    deflateEnd(&stream)
    return Data(out.prefix(n))
}

func write(_ data: Data, _ dir: String, _ name: String) -> String {
    let p = dir + "/" + name
    try! data.write(to: URL(fileURLWithPath: p))
    return p
}

@Suite("Fashion-MNIST from Debian's dataset-fashion-mnist",
       .enabled(if: Datasets.fashionMNISTInstalled, "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"))
struct FashionMNISTTests {
    @Test func realFilesHaveTheKnownCountsAndFirstImage() throws {
        let d = try Datasets.load(.fashionMNIST)
        #expect(d.train.count == 60_000 && d.test.count == 10_000)
        #expect(d.train.shape == [1, 28, 28] && d.test.shape == [1, 28, 28])
        var perClass = [Int](repeating: 0, count: 10)
        for l in d.train.labels { perClass[Int(l)] += 1 }
        #expect(perClass == Array(repeating: 6_000, count: 10))
        let first = Array(d.train.pixels.prefix(784))
        // Pinned from the Debian package's train-images-idx3-ubyte.gz: CRC-32 and sum of image 0.
        #expect(first.reduce(0) { $0 + Int($1) } == 76_247)
        #expect(first.withUnsafeBufferPointer { crc32(0, $0.baseAddress, 784) } == 4_067_475_125)
        #expect(d.train.labels.prefix(10) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])
        #expect(d.train.classNames[9] == "Ankle boot")
    }
}

@Suite("IDX reader")
struct IDXTests {
    func pair(_ dir: String, n: Int = 3, labels: [UInt8]? = nil, gz: Bool = false) -> (String, String) {
        let img = idxBytes([n, 4, 5], (0..<(n * 20)).map { UInt8($0 % 256) })
        let lab = idxBytes([labels?.count ?? n], labels ?? (0..<n).map { UInt8($0 % 10) })
        return (write(gz ? gzip(img) : img, dir, "i" + (gz ? ".gz" : "")), write(gz ? gzip(lab) : lab, dir, "l" + (gz ? ".gz" : "")))
    }

    @Test func rawAndGzipAgree() throws {
        let dir = tempDir()
        let (ri, rl) = pair(dir)
        let (gi, gl) = pair(dir, gz: true)
        let a = try IDX.load(images: ri, labels: rl, classes: 10, name: "raw")
        let b = try IDX.load(images: gi, labels: gl, classes: 10, name: "gz")
        #expect(a.pixels == b.pixels && a.labels == b.labels && a.shape == [1, 4, 5] && a.count == 3)
        #expect(a.pixels[21] == 21)
    }

    func expectError(_ body: () throws -> Void, _ path: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            try body()
            Issue.record("expected an error containing '\(fragment)'", sourceLocation: sourceLocation)
        } catch let e as DataError {
            #expect(e.description.contains(path) && e.description.contains(fragment), "\(e)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func badFilesNameTheFileAndTheProblem() throws {
        let dir = tempDir()
        let (img, lab) = pair(dir)
        let good = try Data(contentsOf: URL(fileURLWithPath: img))
        let truncated = write(good.prefix(good.count - 7), dir, "truncated")
        expectError({ _ = try IDX.load(images: truncated, labels: lab, classes: 10, name: "x") }, truncated, "truncated")
        var magic = good; magic[0] = 0x12
        let wrongMagic = write(magic, dir, "magic")
        expectError({ _ = try IDX.load(images: wrongMagic, labels: lab, classes: 10, name: "x") }, wrongMagic, "magic")
        let (_, fourLabels) = pair(tempDir(), n: 4)
        expectError({ _ = try IDX.load(images: img, labels: fourLabels, classes: 10, name: "x") }, fourLabels, "holds 4 labels but")
        let (_, badLabel) = pair(tempDir(), labels: [1, 12, 3])
        expectError({ _ = try IDX.load(images: img, labels: badLabel, classes: 10, name: "x") }, badLabel, "label 12 at index 1")
        let empty = write(Data(), dir, "empty")
        expectError({ _ = try IDX.load(images: empty, labels: lab, classes: 10, name: "x") }, empty, "empty")
        expectError({ _ = try IDX.load(images: dir, labels: lab, classes: 10, name: "x") }, dir, "is a directory")
        expectError({ _ = try IDX.load(images: dir + "/nope", labels: lab, classes: 10, name: "x") }, dir + "/nope", "no such file")
        let gz = try Data(contentsOf: URL(fileURLWithPath: pair(tempDir(), gz: true).0))
        let cutGz = write(gz.prefix(gz.count / 2), dir, "cut.gz")
        expectError({ _ = try IDX.load(images: cutGz, labels: lab, classes: 10, name: "x") }, cutGz, "truncated gzip")
        var corrupt = gz; for i in 12..<min(40, corrupt.count) { corrupt[i] ^= 0x5A }
        let corruptGz = write(corrupt, dir, "corrupt.gz")
        expectError({ _ = try IDX.load(images: corruptGz, labels: lab, classes: 10, name: "x") }, corruptGz, "gzip")
        let swapped = write(idxBytes([3], [1, 2, 3]), dir, "oned")
        expectError({ _ = try IDX.load(images: swapped, labels: lab, classes: 10, name: "x") }, swapped, "N×H×W")
    }

    /// Root reads any file, so this check can only run for an ordinary user.
    @Test(.enabled(if: getuid() != 0, "root can read files without read permission"))
    func unreadableFile() throws {
        let dir = tempDir()
        let (img, lab) = pair(dir)
        chmod(img, 0)
        expectError({ _ = try IDX.load(images: img, labels: lab, classes: 10, name: "x") }, img, "permission denied")
    }

    /// Thousands of mutated headers and truncations: each is parsed or rejected with a
    /// DataError; none crashes, hangs or returns an inconsistent array.
    @Test func randomizedHeadersAndTruncations() {
        var g = SeededGenerator(seed: 2024)
        let base = idxBytes([5, 3, 4], (0..<60).map { UInt8($0) })
        var accepted = 0, rejected = 0
        for trial in 0..<5_000 {
            var d = base
            switch trial % 4 {
            case 0: d = d.prefix(Int(g.next() % UInt64(d.count + 1)))
            case 1: for _ in 0..<(1 + Int(g.next() % 3)) { d[Int(g.next() % 16)] = UInt8(truncatingIfNeeded: g.next()) }
            case 2: d[Int(g.next() % UInt64(d.count))] ^= UInt8(1 << (g.next() % 8)); d.append(contentsOf: [UInt8](repeating: 7, count: Int(g.next() % 5)))
            default: d = Data((0..<Int(g.next() % 40)).map { _ in UInt8(truncatingIfNeeded: g.next()) })
            }
            do {
                let a = try IDX.parse(d, path: "fuzz")
                #expect(a.bytes.count == a.dimensions.reduce(1, *))
                accepted += 1
            } catch {
                rejected += 1
            }
        }
        #expect(accepted > 0 && rejected > 0)
        // The same through gzip: truncated or corrupted streams are errors, never crashes.
        let gz = gzip(base)
        for trial in 0..<1_000 {
            var d = gz
            if trial % 2 == 0 { d = d.prefix(Int(g.next() % UInt64(d.count))) } else { d[10 + Int(g.next() % UInt64(d.count - 10))] ^= 0xFF }
            _ = try? IDX.parse(FileReading.gunzip(d, path: "fuzz.gz"), path: "fuzz.gz")
        }
    }
}

@Suite("CIFAR reader")
struct CIFARTests {
    func records(_ labels: [[UInt8]]) -> Data {
        var d = Data()
        for (i, l) in labels.enumerated() {
            d.append(contentsOf: l)
            d.append(contentsOf: (0..<CIFAR.imageBytes).map { UInt8(($0 + i) % 256) })
        }
        return d
    }

    @Test func readsTheBinaryFormat() throws {
        let dir = tempDir()
        let a = write(records([[3], [9]]), dir, "data_batch_1.bin")
        let b = write(records([[0]]), dir, "data_batch_2.bin")
        let set = try CIFAR.load(files: [a, b], hundred: false, name: "c10")
        #expect(set.count == 3 && set.labels == [3, 9, 0] && set.shape == [3, 32, 32])
        #expect(set.pixels[CIFAR.imageBytes + 5] == 6 && set.classNames[3] == "cat")
        let h = write(records([[4, 77], [19, 2]]), dir, "train.bin")
        #expect(try CIFAR.load(files: [h], hundred: true, name: "c100").labels == [77, 2])
        #expect(try CIFAR.load(files: [h], hundred: true, fine: false, name: "c100").labels == [4, 19])
    }

    @Test func rejectsBadRecords() throws {
        let dir = tempDir()
        let short = write(records([[1]]).dropLast(3), dir, "short.bin")
        #expect(throws: DataError.self) { try CIFAR.load(files: [short], hundred: false, name: "x") }
        let badLabel = write(records([[1], [10]]), dir, "label.bin")
        do { _ = try CIFAR.load(files: [badLabel], hundred: false, name: "x"); Issue.record("accepted label 10") } catch {
            #expect(error.description.contains("label 10 of record 1") && error.description.contains(badLabel))
        }
        let badFine = write(records([[1, 100]]), dir, "fine.bin")
        #expect(throws: DataError.self) { try CIFAR.load(files: [badFine], hundred: true, name: "x") }
    }

    @Test func datasetLoaderFindsCIFARDirectoriesOrSaysWhere() throws {
        let dir = tempDir()
        do { _ = try Datasets.load(.cifar10, directory: dir); Issue.record("expected missing") } catch {
            #expect(error.description.contains(dir + "/data_batch_1.bin") && error.description.contains("binary version"))
        }
        do { _ = try Datasets.load(.cifar100); Issue.record("expected missing") } catch {
            #expect(error.description.contains("no dataDir given"))
        }
        do { _ = try Datasets.load(.fashionMNIST, directory: dir); Issue.record("expected missing") } catch {
            #expect(error.description.contains("apt-get install dataset-fashion-mnist") && error.description.contains(dir))
        }
    }
}

@Suite("Synthetic set and batching")
struct PipelineTests {
    @Test func syntheticIsDeterministicBalancedAndBothShapes() throws {
        let a = try Synthetic.make(count: 500, seed: 1), b = try Synthetic.make(count: 500, seed: 1)
        #expect(a.pixels == b.pixels && a.labels == b.labels)
        #expect(try Synthetic.make(count: 500, seed: 2).pixels != a.pixels)
        var perClass = [Int](repeating: 0, count: 10)
        for l in a.labels { perClass[Int(l)] += 1 }
        #expect(perClass.allSatisfy { $0 > 25 })
        let c = try Synthetic.make(count: 10, channels: 3, size: 32, seed: 1)
        #expect(c.shape == [3, 32, 32] && c.pixels.count == 10 * 3 * 32 * 32)
        #expect(throws: DataError.self) { try Synthetic.make(count: 0, seed: 1) }
    }

    @Test func shufflesAreReproducibleAndCoverEverySampleOnce() throws {
        let set = try Synthetic.make(count: 103, seed: 3)
        let plan = try BatchPlan(set: set, batchSize: 10, shuffle: true, augment: false, normalization: set.channelStatistics(),
                                 partial: .keep, seed: 5)
        #expect(plan.batchesPerEpoch == 11)
        let e0 = plan.order(epoch: 0)
        #expect(e0.sorted() == Array(0..<103))
        #expect(plan.order(epoch: 0) == e0 && plan.order(epoch: 1) != e0)
        var seen: [Int] = []
        for i in 0..<plan.batchesPerEpoch {
            let b = plan.batch(epoch: 0, index: i)
            #expect(b.labels == e0[(i * 10)..<min(i * 10 + 10, 103)].map { Int(set.labels[$0]) })
            seen += e0[(i * 10)..<min(i * 10 + 10, 103)]
        }
        #expect(seen.sorted() == Array(0..<103))
        #expect(plan.batch(epoch: 0, index: 10).images.shape == [3, 1, 28, 28])  // the explicit partial batch
        let dropping = try BatchPlan(set: set, batchSize: 10, shuffle: true, augment: false, normalization: set.channelStatistics(),
                                     partial: .drop, seed: 5)
        #expect(dropping.batchesPerEpoch == 10)
    }

    /// Each image is constant (its label·20), so after crop and flip every pixel is either
    /// that value or padding (0): shapes and label alignment survive augmentation.
    @Test func augmentationKeepsShapesAndLabels() throws {
        let n = 40
        let labels = (0..<n).map { Int32($0 % 10) }
        let pixels = labels.flatMap { l in [UInt8](repeating: UInt8(l * 20 + 10), count: 3 * 32 * 32) }
        let set = try ImageSet(name: "const", channels: 3, height: 32, width: 32, classes: 10, pixels: pixels, labels: labels)
        let norm = Normalization(mean: [0, 0, 0], std: [1, 1, 1])
        let plan = try BatchPlan(set: set, batchSize: 8, shuffle: true, augment: true, normalization: norm, partial: .keep, seed: 9)
        var sawPadding = false
        for i in 0..<plan.batchesPerEpoch {
            let b = plan.batch(epoch: 2, index: i)
            #expect(b.images.shape == [b.labels.count, 3, 32, 32])
            let v = b.images.values
            for (j, l) in b.labels.enumerated() {
                let expected = Float(l * 20 + 10) / 255
                for x in v[(j * 3072)..<((j + 1) * 3072)] {
                    #expect(abs(x - expected) < 1e-6 || x == 0)
                    if x == 0 { sawPadding = true }
                }
            }
        }
        #expect(sawPadding)
        #expect(plan.batch(epoch: 2, index: 1).images == plan.batch(epoch: 2, index: 1).images)
    }

    @Test func prefetcherServesTheSameBatchesInOrderAndStops() throws {
        let set = try Synthetic.make(count: 64, seed: 4)
        let plan = try BatchPlan(set: set, batchSize: 16, shuffle: true, augment: false, normalization: set.channelStatistics(),
                                 partial: .drop, seed: 1)
        let p = BatchPrefetcher(plan: plan, startEpoch: 1, startIndex: 2, endEpoch: 3)
        var got: [(Int, Int)] = []
        while let b = p.next() {
            #expect(b.images == plan.batch(epoch: b.epoch, index: b.index).images)
            got.append((b.epoch, b.index))
        }
        #expect(got.map { "\($0.0).\($0.1)" } == ["1.2", "1.3", "2.0", "2.1", "2.2", "2.3"])
        #expect(p.next() == nil)
        let q = BatchPrefetcher(plan: plan, startEpoch: 0, endEpoch: 100)
        _ = q.next()
        q.cancel()
        #expect(q.next() == nil)
        // Dropping a prefetcher whose producer is blocked must not crash (libdispatch traps
        // on a semaphore freed below its initial value).
        for _ in 0..<20 {
            let r = BatchPrefetcher(plan: plan, startEpoch: 0, endEpoch: 100, depth: 3)
            _ = r.next()
        }
        usleep(100_000)
    }

    @Test func validationSplitIsDisjointAndSeeded() throws {
        let set = try Synthetic.make(count: 200, seed: 6)
        let (tr, va) = try set.split(validationFraction: 0.1, seed: 3)
        #expect(tr.count == 180 && va.count == 20)
        let (tr2, _) = try set.split(validationFraction: 0.1, seed: 3)
        #expect(tr.pixels == tr2.pixels)
        #expect(throws: DataError.self) { try set.split(validationFraction: 1.5, seed: 3) }
    }

    @Test func badPlansAreErrors() throws {
        let set = try Synthetic.make(count: 5, seed: 6)
        #expect(throws: DataError.self) {
            try BatchPlan(set: set, batchSize: 0, shuffle: false, augment: false, normalization: .mnist, partial: .keep, seed: 0)
        }
        #expect(throws: DataError.self) {
            try BatchPlan(set: set, batchSize: 8, shuffle: false, augment: false, normalization: .mnist, partial: .drop, seed: 0)
        }
        #expect(throws: DataError.self) {
            try BatchPlan(set: set, batchSize: 2, shuffle: false, augment: false, normalization: .cifar10, partial: .keep, seed: 0)
        }
    }
}

/// Files that are not what they claim to be: each read ends at once with the file and
/// the problem named (no hang on a FIFO or /dev/zero, no "not found" for a link loop).
@Suite("Hostile dataset files")
struct HostileDatasetFileTests {
    func message(_ path: String) -> String {
        do { _ = try FileReading.read(path); return "no error" } catch { return error.description }
    }

    @Test func fifoDeviceAndLinkLoopAreNamedForWhatTheyAre() throws {
        let dir = tempDir()
        let fifo = dir + "/train-images-idx3-ubyte"
        #expect(mkfifo(fifo, 0o644) == 0)
        #expect(message(fifo) == "\(fifo): is a FIFO (named pipe), expected a regular file")
        #expect(message("/dev/zero") == "/dev/zero: is a character device, expected a regular file")
        let loop = dir + "/loop"
        #expect(symlink(loop, loop) == 0)
        #expect(message(loop) == "\(loop): a symbolic link loop (too many levels of symbolic links)")
        #expect(message(dir + "/absent") == "\(dir)/absent: no such file or directory")
    }

    @Test func linkLoopInPlaceOfADatasetFileIsNotCalledMissing() throws {
        let dir = tempDir()
        for n in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            #expect(symlink(dir + "/" + n, dir + "/" + n) == 0)
        }
        do {
            _ = try Datasets.load(.mnist, directory: dir)
            Issue.record("a link loop was read")
        } catch {
            #expect(error.description == "\(dir)/train-images-idx3-ubyte: a symbolic link loop (too many levels of symbolic links)")
        }
    }

    /// `locate` finds a dataset's files without reading them, or says where it looked.
    @Test func locateSaysWhereItLooked() throws {
        let dir = tempDir()
        do {
            _ = try Datasets.locate(.mnist, directory: dir)
            Issue.record("an empty folder was taken for MNIST")
        } catch {
            #expect(error.description == "MNIST not found (looked in \(dir)/train-images-idx3-ubyte[.gz]). Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) in \(dir).")
        }
        let names = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte.gz"]
        for n in names { #expect(FileManager.default.createFile(atPath: dir + "/" + n, contents: Data())) }
        guard case let .idx(paths, dataset, _, _) = try Datasets.locate(.mnist, directory: dir) else { Issue.record("not IDX"); return }
        #expect(dataset == "MNIST" && paths == names.map { dir + "/" + $0 })
        guard case .synthetic = try Datasets.locate(.synthetic) else { Issue.record("synthetic needs no files"); return }
    }

    /// `cat a.gz b.gz` is one valid gzip file holding both (RFC 1952 members).
    @Test func multiMemberGzipReadsEveryMember() throws {
        let whole = idxBytes([4, 2, 3], (0..<24).map { UInt8($0) })
        let cut = whole.count / 2
        let dir = tempDir()
        let path = write(gzip(whole.prefix(cut)) + gzip(whole.suffix(from: cut)), dir, "two.gz")
        #expect(try FileReading.read(path) == whole)
        let parsed = try IDX.parse(try FileReading.read(path), path: path)
        #expect(parsed.dimensions == [4, 2, 3] && parsed.bytes == (0..<24).map { UInt8($0) })
    }
}

@Suite("Batch shares of a data-parallel run")
struct BatchShareTests {
    /// Rank k's share is images [k·b, (k+1)·b) of the whole batch — pixels after
    /// augmentation included — and a batch that does not split evenly is refused by name.
    @Test func sharesMakeUpTheWholeBatch() throws {
        let set = try Synthetic.make(count: 96, seed: 3)
        let plan = try BatchPlan(set: set, batchSize: 24, shuffle: true, augment: true,
                                 normalization: Normalization(mean: [0.5], std: [0.25]), partial: .drop, seed: 9)
        let shares = try (0..<3).map { try plan.sharded(rank: $0, of: 3) }
        for (epoch, index) in [(0, 0), (1, 3), (2, 1)] {
            let whole = plan.batch(epoch: epoch, index: index)
            let parts = shares.map { $0.batch(epoch: epoch, index: index) }
            #expect(parts.flatMap(\.images.values) == whole.images.values)
            #expect(parts.flatMap(\.labels) == whole.labels)
            #expect(parts.map(\.images.shape) == Array(repeating: [8] + Array(whole.images.shape.dropFirst()), count: 3))
        }
        #expect(throws: DataError.invalid("a batch of 24 does not split into 5 equal shares: use a batch size divisible by 5")) {
            _ = try plan.sharded(rank: 0, of: 5)
        }
    }
}
