import Foundation
import Testing
import AdderCore
import AdderTestSupport
@testable import AdderNN

@Suite("Safetensors checkpoints")
struct CheckpointTests {
    func tempDir() -> URL { URL(fileURLWithPath: temporaryDirectory("checkpoint")) }

    func trainedModel(seed: UInt64) -> (Model, SGD) {
        let m = Model(.lenet5, seed: seed)
        let opt = SGD(parameters: m.namedParameters)
        m.trainStep(images: normalTensor([4, 1, 28, 28], seed: seed), labels: [1, 2, 3, 4], optimizer: opt, learningRate: 0.1)
        return (m, opt)
    }

    @Test func roundTripRestoresWeightsStatisticsAndMomentum() throws {
        let url = tempDir().appendingPathComponent("a.safetensors")
        let (a, optA) = trainedModel(seed: 1)
        try Checkpoint.save(model: a, optimizer: optA, metadata: ["epoch": "3"], to: url)
        let b = Model(.lenet5, seed: 2)
        let optB = SGD(parameters: b.namedParameters)
        let meta = try Checkpoint.load(from: url, into: b, optimizer: optB)
        #expect(meta["epoch"] == "3" && meta["model"] == "lenet5")
        for ((na, pa), (nb, pb)) in zip(a.namedParameters, b.namedParameters) {
            #expect(na == nb && pa.value == pb.value, "\(na)")
        }
        #expect(optB.stepCount == 1)
        #expect(zip(optA.momentumBuffers, optB.momentumBuffers).allSatisfy { $0 == $1 })
        // Running statistics are part of it (eval-mode outputs agree).
        let x = normalTensor([2, 1, 28, 28], seed: 5)
        #expect(a.forward(x, training: false) == b.forward(x, training: false))
    }

    /// The file layout is the safetensors spec: u64 LE header length, JSON, aligned data.
    @Test func layoutFollowsTheSpec() throws {
        let url = tempDir().appendingPathComponent("b.safetensors")
        let t = try Tensor(shape: [2, 2], values: [1, -2, 3.5, 0])
        try Safetensors.write([("x", t)], metadata: ["k": "v"], to: url)
        let data = try Data(contentsOf: url)
        let n = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        #expect(n % 8 == 0 && data.count == 8 + n + 16)
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + n))) as! [String: Any]
        let x = header["x"] as! [String: Any]
        #expect(x["dtype"] as? String == "F32")
        #expect((x["shape"] as? [Int]) == [2, 2] && (x["data_offsets"] as? [Int]) == [0, 16])
        let floats = data.subdata(in: (8 + n)..<data.count).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(floats == [1, -2, 3.5, 0])
    }

    func expectRejected(_ data: Data, containing fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let url = tempDir().appendingPathComponent("bad.safetensors")
        try! data.write(to: url)
        #expect(sourceLocation: sourceLocation) {
            try Safetensors.read(from: url)
        } throws: { error in
            let e = error as! SafetensorsError
            return e.path == url.path && e.problem.contains(fragment)
        }
    }

    func fileBytes(_ header: String, data: Int) -> Data {
        var h = Data(header.utf8)
        while h.count % 8 != 0 { h.append(0x20) }
        var out = Data()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        return out + h + Data(repeating: 0, count: data)
    }

    @Test func rejectsTruncatedAndGarbageFiles() throws {
        let url = tempDir().appendingPathComponent("c.safetensors")
        let (m, opt) = trainedModel(seed: 3)
        try Checkpoint.save(model: m, optimizer: opt, to: url)
        let good = try Data(contentsOf: url)
        expectRejected(good.prefix(good.count - 5), containing: "outside")
        expectRejected(good.prefix(100), containing: "header length")
        expectRejected(good.prefix(4), containing: "shorter than")
        expectRejected(Data(), containing: "shorter than")
        expectRejected(Data((0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 97 &+ 13) }), containing: "header length")
        expectRejected(fileBytes("not json at all", data: 0), containing: "not a JSON object")
        expectRejected(fileBytes(#"{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: 8), containing: "dtype F64")
        expectRejected(fileBytes(#"{"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8), containing: "needs 12 bytes")
        expectRejected(fileBytes(#"{"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,8]}}"#, data: 8), containing: "valid shape")
        expectRejected(fileBytes(#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: 12), containing: "overlap")
    }

    @Test func rejectsWrongShapesNamesAndModels() throws {
        let dir = tempDir()
        let (m, _) = trainedModel(seed: 4)
        // A tensor of the wrong shape.
        var tensors = m.namedParameters.map { ($0.0, $0.1.value) }
        tensors[0].1 = Tensor(shape: [7])
        let wrongShape = dir.appendingPathComponent("shape.safetensors")
        try Safetensors.write(tensors, to: wrongShape)
        #expect { try Checkpoint.load(from: wrongShape, into: Model(.lenet5), optimizer: nil) } throws: {
            ($0 as! SafetensorsError).problem.contains("'\(m.namedParameters[0].0)' has shape [7], the model expects")
        }
        // A missing tensor.
        let missing = dir.appendingPathComponent("missing.safetensors")
        try Safetensors.write(Array(m.namedParameters.map { ($0.0, $0.1.value) }.dropLast()), to: missing)
        #expect { try Checkpoint.load(from: missing, into: Model(.lenet5), optimizer: nil) } throws: {
            ($0 as! SafetensorsError).problem.contains("missing tensor '\(m.namedParameters.last!.0)'")
        }
        // Another model's checkpoint.
        let other = dir.appendingPathComponent("other.safetensors")
        try Checkpoint.save(model: m, optimizer: nil, to: other)
        #expect { try Checkpoint.load(from: other, into: Model(.resnet20), optimizer: nil) } throws: {
            ($0 as! SafetensorsError).problem.contains("for model 'lenet5', not 'resnet20'")
        }
        // A directory.
        #expect { try Safetensors.read(from: dir) } throws: { ($0 as! SafetensorsError).problem.contains("directory") }
        // Nothing was half-loaded into the target by a failed load.
        let target = Model(.lenet5, seed: 9)
        let before = target.namedParameters.map { $0.1.value }
        _ = try? Checkpoint.load(from: missing, into: target, optimizer: nil)
        #expect(target.namedParameters.map { $0.1.value } == before)
    }

    /// An atomic write leaves no temporary file and replaces the old file whole.
    @Test func writesAreAtomic() throws {
        let dir = tempDir()
        let url = dir.appendingPathComponent("d.safetensors")
        try Safetensors.write([("a", Tensor(shape: [3], repeating: 1))], to: url)
        try Safetensors.write([("a", Tensor(shape: [5], repeating: 2))], to: url)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["d.safetensors"])
        #expect(try Safetensors.read(from: url).tensors["a"]!.values == [2, 2, 2, 2, 2])
    }
}
