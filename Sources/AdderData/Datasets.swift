import AdderCore
import Foundation

/// The datasets an experiment can name.
public enum DatasetName: String, Sendable, CaseIterable, Codable {
    case fashionMNIST = "fashion-mnist"
    case mnist
    case cifar10
    case cifar100
    case synthetic

    /// Training images in the standard files (the synthetic set's as drawn).
    public var standardTrainingImages: Int {
        switch self {
        case .fashionMNIST, .mnist: return 60_000
        case .cifar10, .cifar100: return 50_000
        case .synthetic: return 10_000
        }
    }

    /// Per-sample shape [C, H, W] (synthetic follows the model: 28×28×1 or 32×32×3).
    public var defaultShape: [Int] {
        switch self {
        case .fashionMNIST, .mnist, .synthetic: return [1, 28, 28]
        case .cifar10, .cifar100: return [3, 32, 32]
        }
    }
}

/// A training and a test set with the normalisation to apply to both.
public struct DatasetSplits: Sendable {
    public let train: ImageSet
    public let test: ImageSet
    public let normalization: Normalization
    /// True for CIFAR: random crop with 4-pixel padding and horizontal flip in training.
    public let augment: Bool
}

/// Finds and loads datasets by name.
public enum Datasets {
    /// Where Debian's `dataset-fashion-mnist` package puts its files.
    public static let debianFashionMNIST = "/usr/share/datasets/fashion-mnist"

    /// True when Debian's Fashion-MNIST files are where the package puts them.
    public static var fashionMNISTInstalled: Bool { find(debianFashionMNIST, "train-images-idx3-ubyte") != nil }

    public static let fashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                        "Sneaker", "Bag", "Ankle boot"]

    /// Where a dataset's files are, found (not read) by `locate`.
    public enum Files: Sendable {
        case synthetic
        /// The four IDX files: training images and labels, test images and labels.
        case idx(paths: [String], dataset: String, classNames: [String]?, normalization: Normalization)
        case cifar(train: [String], test: [String], hundred: Bool, normalization: Normalization)
    }

    /// Finds the files of `name` without reading them (`directory` as for `load`): the
    /// launcher checks a dataset is there before queuing runs. The error says where it looked.
    public static func locate(_ name: DatasetName, directory: String? = nil) throws(DataError) -> Files {
        switch name {
        case .synthetic:
            return .synthetic
        case .fashionMNIST:
            let dir = directory ?? debianFashionMNIST
            let paths = try idxFiles(dir, dataset: "Fashion-MNIST",
                                     hint: "Install it with: apt-get install dataset-fashion-mnist (files go to \(debianFashionMNIST)), or set dataDir to a folder with the four IDX files.")
            return .idx(paths: paths, dataset: "Fashion-MNIST", classNames: fashionClasses, normalization: .fashionMNIST)
        case .mnist:
            guard let directory else {
                throw .missing(dataset: "MNIST", looked: ["(no dataDir given)"],
                               hint: "Set dataDir to a folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz).")
            }
            let paths = try idxFiles(directory, dataset: "MNIST",
                                     hint: "Put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte (optionally .gz) in \(directory).")
            return .idx(paths: paths, dataset: "MNIST", classNames: nil, normalization: .mnist)
        case .cifar10:
            let dir = try cifarDirectory(directory, candidates: ["", "cifar-10-batches-bin"], marker: "data_batch_1.bin", dataset: "CIFAR-10",
                                         hint: "Put data_batch_1.bin … data_batch_5.bin and test_batch.bin (the 'binary version' of CIFAR-10) there.")
            return .cifar(train: (1...5).map { dir + "/data_batch_\($0).bin" }, test: [dir + "/test_batch.bin"], hundred: false, normalization: .cifar10)
        case .cifar100:
            let dir = try cifarDirectory(directory, candidates: ["", "cifar-100-binary"], marker: "train.bin", dataset: "CIFAR-100",
                                         hint: "Put train.bin and test.bin (the 'binary version' of CIFAR-100) there.")
            return .cifar(train: [dir + "/train.bin"], test: [dir + "/test.bin"], hundred: true, normalization: .cifar100)
        }
    }

    /// Loads `name`. `directory` is where the files are (required for MNIST and CIFAR;
    /// optional for Fashion-MNIST, which defaults to Debian's location). The synthetic set
    /// is drawn with `shape` ([1, 28, 28] or [3, 32, 32]) from `seed`.
    public static func load(_ name: DatasetName, directory: String? = nil, shape: [Int]? = nil, seed: UInt64 = 0,
                            syntheticCounts: (train: Int, test: Int) = (10_000, 2_000)) throws(DataError) -> DatasetSplits {
        switch try locate(name, directory: directory) {
        case .synthetic:
            let s = shape ?? name.defaultShape
            guard s.count == 3, s[1] == s[2] else { throw .invalid("synthetic dataset: shape \(s) must be C×S×S") }
            let train = try Synthetic.make(count: syntheticCounts.train, channels: s[0], size: s[1], seed: seed, name: "synthetic/train")
            let test = try Synthetic.make(count: syntheticCounts.test, channels: s[0], size: s[1], seed: seed ^ 0x5EED_7E57, name: "synthetic/test")
            return DatasetSplits(train: train, test: test, normalization: train.channelStatistics(), augment: false)
        case let .idx(paths, dataset, classNames, normalization):
            let lower = dataset.lowercased()
            let train = try IDX.load(images: paths[0], labels: paths[1], classes: 10, name: lower + "/train", classNames: classNames)
            let test = try IDX.load(images: paths[2], labels: paths[3], classes: 10, name: lower + "/test", classNames: classNames)
            guard train.shape == test.shape else {
                throw .file(path: paths[2], problem: "images are \(test.shape), the training images are \(train.shape)")
            }
            return DatasetSplits(train: train, test: test, normalization: normalization, augment: false)
        case let .cifar(trainFiles, testFiles, hundred, normalization):
            let base = hundred ? "cifar100" : "cifar10"
            let train = try CIFAR.load(files: trainFiles, hundred: hundred, name: base + "/train")
            let test = try CIFAR.load(files: testFiles, hundred: hundred, name: base + "/test")
            return DatasetSplits(train: train, test: test, normalization: normalization, augment: true)
        }
    }

    /// The first existing file among `base` and `base.gz` in `dir`.
    static func find(_ dir: String, _ base: String) -> String? {
        for candidate in [base, base + ".gz"] {
            let p = (dir as NSString).appendingPathComponent(candidate)
            if InputFile.entryExists(p) { return p }
        }
        return nil
    }

    /// The four IDX files in `dir` (each plain or .gz), or where the first missing one was looked for.
    static func idxFiles(_ dir: String, dataset: String, hint: String) throws(DataError) -> [String] {
        var paths: [String] = []
        for n in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            guard let p = find(dir, n) else {
                throw .missing(dataset: dataset, looked: [(dir as NSString).appendingPathComponent(n) + "[.gz]"], hint: hint)
            }
            paths.append(p)
        }
        return paths
    }

    static func cifarDirectory(_ directory: String?, candidates: [String], marker: String, dataset: String, hint: String) throws(DataError) -> String {
        guard let directory else {
            throw .missing(dataset: dataset, looked: ["(no dataDir given)"], hint: "Set dataDir to the folder with the binary files. " + hint)
        }
        let dirs = candidates.map { $0.isEmpty ? directory : (directory as NSString).appendingPathComponent($0) }
        for d in dirs where InputFile.entryExists((d as NSString).appendingPathComponent(marker)) { return d }
        throw .missing(dataset: dataset, looked: dirs.map { ($0 as NSString).appendingPathComponent(marker) }, hint: hint)
    }
}
