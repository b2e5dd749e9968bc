import Foundation
import Testing
@testable import Tensor

@Suite struct TensorViewTests {
    let t = Tensor((0..<24).map(Float.init), shape: [2, 3, 4])

    @Test func reshapeOfContiguousIsAView() {
        let r = t.reshaped([6, -1])
        #expect(r.shape == [6, 4])
        #expect(r.storage === t.storage)
        r[index: [0, 1]] = 100
        #expect(t[index: [0, 0, 1]] == 100)
    }

    @Test func transposeIsAViewAndReshapeOfItCopies() {
        let tr = t.transposed(1, 2)
        #expect(tr.shape == [2, 4, 3])
        #expect(!tr.isContiguous)
        #expect(tr.storage === t.storage)
        #expect(tr[index: [1, 3, 2]] == t[index: [1, 2, 3]])
        let flat = tr.reshaped([24])
        #expect(flat.storage !== t.storage)
        #expect(Array(flat.scalars.prefix(6)) == [0, 4, 8, 1, 5, 9])
    }

    @Test func sliceAndIndexShareStorage() {
        let s = t.slice(1, 1..<3)
        #expect(s.shape == [2, 2, 4])
        #expect(s.scalars == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        #expect(t[1].scalars == (12..<24).map(Float.init))
        #expect(t[1].storage === t.storage)
    }

    @Test func permuteAndExpand() {
        let p = t.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p[index: [3, 1, 2]] == t[index: [1, 2, 3]])
        let e = Tensor([1, 2, 3], shape: [1, 3]).expanded([2, 3])
        #expect(e.scalars == [1, 2, 3, 1, 2, 3])
    }

    @Test func copyElementsBetweenLayouts() {
        let dst = Tensor(zeros: [4, 3, 2])
        dst.copyElements(from: t.permuted([2, 1, 0]))
        #expect(dst[index: [3, 2, 1]] == t[index: [1, 2, 3]])
    }

    @Test func halfPrecisionConversions() {
        // BF16 keeps the top 16 bits with round-to-nearest-even; 1 + 2^-8 is exactly between
        // 1 and 1 + 2^-7, so it rounds to the even one (1.0).
        #expect(HalfPrecision.floatToBF16(1.0) == 0x3F80)
        #expect(HalfPrecision.floatToBF16(1.0 + 1.0 / 256) == 0x3F80)
        #expect(HalfPrecision.floatToBF16(1.0 + 3.0 / 256) == 0x3F82)
        #expect(HalfPrecision.bf16ToFloat(0xC040) == -3)
        #expect(HalfPrecision.floatToF16(1.0) == 0x3C00)
        #expect(HalfPrecision.f16ToFloat(0xC500) == -5)
        #expect(HalfPrecision.f16ToFloat(0x7BFF) == 65504)
        let x = Tensor([0.1, -2.5, 1e-3, 300], shape: [4])
        let back = Tensor(bf16: x.bf16Bits, shape: [4]).scalars
        for (a, b) in zip(x.scalars, back) { #expect(abs(a - b) <= abs(a) / 128) }
        #expect(Tensor(f16: x.f16Bits, shape: [4]).scalars[1] == -2.5)
    }

    @Test func randomIsReproducible() {
        var a = SplitMix64(seed: 5), b = SplitMix64(seed: 5)
        #expect(Tensor.randn([10], rng: &a).scalars == Tensor.randn([10], rng: &b).scalars)
        var c = SplitMix64(seed: 6)
        let big = Tensor.randn([20000], rng: &c).scalars
        let mean = big.reduce(0, +) / Float(big.count)
        let variance = big.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(big.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
    }
}

@Suite struct SafeTensorsTests {
    func tempPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("saro-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    @Test(arguments: [SafeTensorsFile.DType.f32, .bf16, .f16])
    func roundTrip(dtype: SafeTensorsFile.DType) throws {
        let a = Tensor([1, 2.5, -3, 0.25, 8, 16], shape: [2, 3]), b = Tensor([7], shape: [1])
        let path = tempPath("rt-\(dtype.rawValue).safetensors")
        try SafeTensorsFile.write(["a": a, "b.weight": b], to: path, dtype: dtype, metadata: ["format": "pt"])
        let f = try SafeTensorsFile(path: path)
        #expect(f.names == ["a", "b.weight"])
        #expect(f.metadata["format"] == "pt")
        #expect(f.entries["a"]?.dtype == dtype)
        #expect(try f.tensor("a").scalars == a.scalars)
        #expect(try f.tensor("a").shape == [2, 3])
        #expect(try f.tensor("b.weight").scalars == [7])
    }

    @Test func truncatedFileNamesFileAndTensor() throws {
        let path = tempPath("trunc.safetensors")
        try SafeTensorsFile.write(["w": Tensor(repeating: 1, shape: [100])], to: path)
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        try data.prefix(data.count - 10).write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensorsError.self) { try SafeTensorsFile(path: path) }
        do { _ = try SafeTensorsFile(path: path) } catch {
            let message = "\(error)"
            #expect(message.contains(path) && message.contains("'w'") && message.contains("truncated"))
        }
    }

    @Test func garbageHeaderIsAClearError() throws {
        let path = tempPath("garbage.safetensors")
        var d = Data()
        var n = UInt64(5).littleEndian
        withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
        d.append(contentsOf: Array("{nope".utf8))
        try d.write(to: URL(fileURLWithPath: path))
        #expect(throws: SafeTensorsError.corrupt(file: path, reason: "header is not a JSON object")) { try SafeTensorsFile(path: path) }
        let f = try? SafeTensorsFile(path: tempPath("missing.safetensors"))
        #expect(f == nil)
    }

    @Test func missingTensorIsNamed() throws {
        let path = tempPath("one.safetensors")
        try SafeTensorsFile.write(["x": Tensor([1], shape: [1])], to: path)
        #expect(throws: SafeTensorsError.missingTensor(file: path, tensor: "y")) { try SafeTensorsFile(path: path).tensor("y") }
    }
}
