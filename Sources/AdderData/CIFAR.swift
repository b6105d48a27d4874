import Foundation

/// CIFAR-10 and CIFAR-100 in their binary versions: fixed-size records of label
/// byte(s) followed by 3072 pixel bytes (1024 red, 1024 green, 1024 blue; 32×32).
public enum CIFAR {
    public static let imageBytes = 3 * 32 * 32

    public static let cifar10Classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// Reads record files. CIFAR-10 records carry one label byte; CIFAR-100 records carry
    /// a coarse then a fine label, and `fine` picks which one is the class.
    public static func load(files: [String], hundred: Bool, fine: Bool = true, name: String) throws(DataError) -> ImageSet {
        let labelBytes = hundred ? 2 : 1
        let record = labelBytes + imageBytes
        let classes = hundred ? (fine ? 100 : 20) : 10
        var pixels: [UInt8] = [], labels: [Int32] = []
        for path in files {
            let data = try FileReading.read(path)
            guard data.count % record == 0 else {
                throw .file(path: path, problem: "\(data.count) bytes is not a whole number of \(record)-byte \(hundred ? "CIFAR-100" : "CIFAR-10") records (truncated or wrong format?)")
            }
            let n = data.count / record
            pixels.reserveCapacity(pixels.count + n * imageBytes)
            let failure: DataError? = data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> DataError? in
                let bytes = raw.bindMemory(to: UInt8.self)
                for i in 0..<n {
                    let o = i * record
                    let coarse = Int(bytes[o])
                    let label = hundred ? (fine ? Int(bytes[o + 1]) : coarse) : coarse
                    if hundred && coarse >= 20 {
                        return .file(path: path, problem: "coarse label \(coarse) of record \(i) is outside 0..<20")
                    }
                    guard label < classes else {
                        return .file(path: path, problem: "label \(label) of record \(i) is outside 0..<\(classes)")
                    }
                    labels.append(Int32(label))
                    pixels.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[(o + labelBytes)..<(o + record)]))
                }
                return nil
            }
            if let failure { throw failure }
        }
        return try ImageSet(name: name, channels: 3, height: 32, width: 32, classes: classes, pixels: pixels, labels: labels,
                            classNames: hundred ? nil : cifar10Classes)
    }
}
