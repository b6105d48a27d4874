import AdderCore
import Foundation

/// Model parameters, running statistics and optimizer state in one safetensors file.
///
/// Model tensors keep their PyTorch-style names ("layer1.0.conv1.weight"); momentum
/// buffers are stored as "optimizer.momentum.<name>"; the metadata holds the
/// format version, the model kind, the optimizer's step count and whatever the
/// caller adds (epoch, data position, …). To load the weights in PyTorch, drop the
/// "optimizer." keys.
public enum Checkpoint {
    public static let momentumPrefix = "optimizer.momentum."
    /// The `format` metadata of the checkpoints this version writes.
    public static let format = "adderlab-checkpoint-1"

    public static func save(model: Model, optimizer: SGD?, metadata: [String: String] = [:], to url: URL) throws(SafetensorsError) {
        var tensors = model.namedParameters.map { ($0.0, $0.1.value) }
        var meta = metadata
        meta["format"] = format
        meta["model"] = model.kind.rawValue
        meta["classes"] = String(model.classes)
        if let optimizer {
            meta["optimizer.steps"] = String(optimizer.stepCount)
            for ((name, _), buf) in zip(optimizer.parameters, optimizer.momentumBuffers) {
                if let buf { tensors.append((momentumPrefix + name, buf)) }
            }
        }
        try Safetensors.write(tensors, metadata: meta, to: url)
    }

    /// The metadata of a checkpoint file, read without loading it into a model.
    public static func read(metadataOf url: URL) throws(SafetensorsError) -> [String: String] {
        try Safetensors.readMetadata(from: url)
    }

    /// Loads into `model` (and `optimizer`), after checking every name and shape;
    /// nothing is changed unless the whole file fits. Returns the metadata.
    @discardableResult
    public static func load(from url: URL, into model: Model, optimizer: SGD?) throws(SafetensorsError) -> [String: String] {
        let (tensors, meta) = try Safetensors.read(from: url)
        func fail(_ s: String) -> SafetensorsError { SafetensorsError(path: url.path, problem: s) }
        if let kind = meta["model"], kind != model.kind.rawValue {
            throw fail("checkpoint is for model '\(kind)', not '\(model.kind.rawValue)'")
        }
        let known = Set(model.namedParameters.map(\.0))
        for (name, p) in model.namedParameters {
            guard let t = tensors[name] else { throw fail("missing tensor '\(name)' (shape \(p.value.shape))") }
            guard t.shape == p.value.shape else {
                throw fail("tensor '\(name)' has shape \(t.shape), the model expects \(p.value.shape)")
            }
        }
        for name in tensors.keys where !known.contains(name) && !name.hasPrefix(momentumPrefix) {
            throw fail("unexpected tensor '\(name)': not a parameter of \(model.kind.rawValue)")
        }
        var buffers: [Tensor?] = []
        var steps = 0
        if let optimizer {
            buffers = optimizer.parameters.map { tensors[momentumPrefix + $0.0] }
            for ((name, p), b) in zip(optimizer.parameters, buffers) {
                if let b, b.shape != p.value.shape {
                    throw fail("momentum buffer of '\(name)' has shape \(b.shape), expected \(p.value.shape)")
                }
            }
            guard let s = Int(meta["optimizer.steps"] ?? "0"), s >= 0 else {
                throw fail("metadata optimizer.steps '\(meta["optimizer.steps"] ?? "")' is not a non-negative integer")
            }
            steps = s
        }
        for (name, p) in model.namedParameters { p.value = tensors[name]! }
        if let optimizer {
            do { try optimizer.restore(momentumBuffers: buffers, stepCount: steps) } catch { throw fail(error.description) }
        }
        return meta
    }
}
