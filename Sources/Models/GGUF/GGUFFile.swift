import Foundation
import Tensor

public enum GGUFError: Error, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case corrupt(file: String, reason: String)
    case badTensor(file: String, tensor: String, reason: String)
    case missingMetadata(file: String, key: String)
    case missingTensor(file: String, tensor: String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): cannot read GGUF file: \(r)"
        case .corrupt(let f, let r): return "\(f): not a valid GGUF file: \(r)"
        case .badTensor(let f, let t, let r): return "\(f): tensor '\(t)': \(r)"
        case .missingMetadata(let f, let k): return "\(f): GGUF metadata has no '\(k)'"
        case .missingTensor(let f, let t): return "\(f): no tensor named '\(t)'"
        }
    }
}

/// A GGUF file (versions 2 and 3): typed metadata and tensors, memory-mapped.
/// Layout: magic "GGUF", version, tensor count, metadata count, the metadata key/values,
/// the tensor infos (name, dims with the fastest-varying first, ggml type, data offset), then
/// the tensor data aligned to `general.alignment` (32 by default).
public struct GGUFFile {
    public enum Value: Equatable, Sendable {
        case int(Int64), uint(UInt64), float(Double), bool(Bool), string(String), array([Value])

        public var int: Int? {
            switch self {
            case .int(let v): return Int(v)
            case .uint(let v): return v <= UInt64(Int.max) ? Int(v) : nil
            default: return nil
            }
        }
        public var double: Double? {
            switch self {
            case .float(let v): return v
            case .int(let v): return Double(v)
            case .uint(let v): return Double(v)
            default: return nil
            }
        }
        public var string: String? { if case .string(let s) = self { return s } else { return nil } }
        public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
        public var array: [Value]? { if case .array(let a) = self { return a } else { return nil } }
    }

    public struct TensorInfo: Sendable {
        public let name: String
        /// Dimensions with the fastest-varying first (ggml's ne[]); `shape` is the row-major
        /// (PyTorch) order.
        public let dims: [Int]
        public let type: GGMLType
        public let offset: Int
        public var shape: [Int] { dims.reversed() }
        public var elementCount: Int { dims.reduce(1, *) }
        public var byteCount: Int { type.byteCount(elements: elementCount) }
    }

    public let path: String
    public let version: Int
    public let metadata: [String: Value]
    public let tensors: [String: TensorInfo]
    /// Tensor names in file order.
    public let tensorNames: [String]
    let data: Data
    let dataStart: Int

    public init(path: String) throws {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw GGUFError.unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        self.data = data
        // The header is parsed while the mapped bytes are pinned: the reader's pointers never
        // leave this closure.
        let header = try data.withUnsafeBytes { raw in try GGUFFile.parseHeader(Reader(raw: raw, path: path), fileSize: data.count) }
        version = header.version
        metadata = header.metadata
        dataStart = header.dataStart
        tensors = header.tensors
        tensorNames = header.order
    }

    struct Header {
        var version: Int
        var metadata: [String: Value]
        var tensors: [String: TensorInfo]
        var order: [String]
        var dataStart: Int
    }

    static func parseHeader(_ reader: Reader, fileSize: Int) throws -> Header {
        var r = reader
        let path = r.path
        guard try r.u32() == 0x4655_4747 else { throw GGUFError.corrupt(file: path, reason: "missing GGUF magic") }
        let version = Int(try r.u32())
        guard version == 2 || version == 3 else { throw GGUFError.corrupt(file: path, reason: "unsupported GGUF version \(version) (2 and 3 are)") }
        let tensorCount = try r.count(try r.u64(), what: "tensor count")
        let kvCount = try r.count(try r.u64(), what: "metadata count")
        var meta: [String: Value] = [:]
        for _ in 0..<kvCount {
            let key = try r.string()
            meta[key] = try r.value(type: try r.u32())
        }
        var infos: [String: TensorInfo] = [:]
        var order: [String] = []
        for _ in 0..<tensorCount {
            let name = try r.string()
            let nDims = Int(try r.u32())
            guard nDims <= 8 else { throw GGUFError.badTensor(file: path, tensor: name, reason: "\(nDims) dimensions") }
            var dims: [Int] = []
            for _ in 0..<nDims { dims.append(try r.count(try r.u64(), what: "dimension of \(name)")) }
            let rawType = try r.u32()
            guard let type = GGMLType(rawValue: rawType) else {
                throw GGUFError.badTensor(file: path, tensor: name, reason: "unknown ggml type \(rawType)")
            }
            let offset = try r.count(try r.u64(), what: "offset of \(name)")
            // No ggml type packs more than 8 weights in a byte: more than 8 per byte of the file is corrupt.
            guard Tensor.count(dims, atMost: fileSize * 8) != nil else {
                throw GGUFError.badTensor(file: path, tensor: name, reason: "dimensions \(dims) hold more weights than the \(fileSize)-byte file can")
            }
            guard (dims.first ?? 1) % type.blockSize == 0 else {
                throw GGUFError.badTensor(file: path, tensor: name, reason: "row of \(dims.first ?? 1) is not whole \(type) blocks")
            }
            infos[name] = TensorInfo(name: name, dims: dims, type: type, offset: offset)
            order.append(name)
        }
        let alignment = meta["general.alignment"]?.int ?? 32
        guard alignment > 0 else { throw GGUFError.corrupt(file: path, reason: "general.alignment is \(alignment)") }
        let dataStart = (r.position + alignment - 1) / alignment * alignment
        for info in infos.values where dataStart + info.offset + info.byteCount > fileSize {
            throw GGUFError.badTensor(file: path, tensor: info.name,
                reason: "data ends at byte \(dataStart + info.offset + info.byteCount), past the end of the \(fileSize)-byte file (truncated?)")
        }
        return Header(version: version, metadata: meta, tensors: infos, order: order, dataStart: dataStart)
    }

    /// The tensor decoded to Float32 in row-major (PyTorch) shape.
    public func tensor(_ name: String) throws -> Tensor {
        guard let info = tensors[name] else { throw GGUFError.missingTensor(file: path, tensor: name) }
        guard info.type.canDequantize else {
            throw GGUFError.badTensor(file: path, tensor: name, reason: "type \(info.type) is not supported (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q5_K, Q6_K are)")
        }
        let out = Tensor(uninitialized: info.shape)
        data.withUnsafeBytes { raw in
            Dequantize.run(info.type, raw.baseAddress! + dataStart + info.offset, count: info.elementCount, into: out.data)
        }
        return out
    }

    /// The raw bytes of a tensor (for kernels that compute on quantized blocks directly).
    public func rawBytes(_ name: String) throws -> Data {
        guard let info = tensors[name] else { throw GGUFError.missingTensor(file: path, tensor: name) }
        let start = dataStart + info.offset
        return data.subdata(in: start..<(start + info.byteCount))
    }

    public func require(_ key: String) throws -> Value {
        guard let v = metadata[key] else { throw GGUFError.missingMetadata(file: path, key: key) }
        return v
    }

    /// Bounds-checked little-endian reading of the header.
    struct Reader {
        let raw: UnsafeRawBufferPointer
        let path: String
        var position = 0

        mutating func bytes(_ n: Int) throws -> UnsafeRawBufferPointer {
            guard n >= 0, position + n <= raw.count else {
                throw GGUFError.corrupt(file: path, reason: "header runs past the end of the file at byte \(position) (truncated?)")
            }
            defer { position += n }
            return UnsafeRawBufferPointer(rebasing: raw[position..<(position + n)])
        }
        mutating func load<T: FixedWidthInteger>(_: T.Type) throws -> T {
            T(littleEndian: try bytes(MemoryLayout<T>.size).loadUnaligned(as: T.self))
        }
        mutating func u32() throws -> UInt32 { try load(UInt32.self) }
        mutating func u64() throws -> UInt64 { try load(UInt64.self) }
        func count(_ v: UInt64, what: String) throws -> Int {
            guard v <= UInt64(raw.count) * 8 + 1024 else { throw GGUFError.corrupt(file: path, reason: "implausible \(what) \(v)") }
            return Int(v)
        }
        mutating func string() throws -> String {
            let n = try count(try u64(), what: "string length")
            return String(decoding: try bytes(n), as: UTF8.self)
        }
        mutating func value(type: UInt32) throws -> Value {
            switch type {
            case 0: return .uint(UInt64(try load(UInt8.self)))
            case 1: return .int(Int64(try load(Int8.self)))
            case 2: return .uint(UInt64(try load(UInt16.self)))
            case 3: return .int(Int64(try load(Int16.self)))
            case 4: return .uint(UInt64(try u32()))
            case 5: return .int(Int64(try load(Int32.self)))
            case 6: return .float(Double(Float(bitPattern: try u32())))
            case 7: return .bool(try load(UInt8.self) != 0)
            case 8: return .string(try string())
            case 9:
                let elementType = try u32()
                let n = try count(try u64(), what: "array length")
                var values: [Value] = []
                // Every element takes at least a byte: a corrupt length cannot reserve more than the file holds.
                values.reserveCapacity(min(n, max(0, raw.count - position)))
                for _ in 0..<n { values.append(try value(type: elementType)) }
                return .array(values)
            case 10: return .uint(try u64())
            case 11: return .int(try load(Int64.self))
            case 12: return .float(Double(bitPattern: try u64()))
            default: throw GGUFError.corrupt(file: path, reason: "unknown metadata value type \(type) at byte \(position)")
            }
        }
    }
}
