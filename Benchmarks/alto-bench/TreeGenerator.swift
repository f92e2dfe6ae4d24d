import Foundation
import Glibc

/// A generated file tree for the scan benchmark: folders of 500 files, two levels deep, a tenth of the files
/// with a few hundred bytes in them. Made once per size and kept (a `.complete` marker says it is whole), since
/// making half a million files takes longer than scanning them.
enum TreeGenerator {
    static func ensure(root: String, files: Int) throws {
        let marker = root + "/.complete"
        if FileManager.default.fileExists(atPath: marker) { return }
        try? FileManager.default.removeItem(atPath: root)
        print("generating \(files) files under \(root) (once)…")
        let perFolder = 500
        let payload = [UInt8](repeating: 0x61, count: 4096)
        for folder in 0..<((files + perFolder - 1) / perFolder) {
            let path = String(format: "%@/g%03d/f%05d", root, folder / 100, folder)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for index in 0..<min(perFolder, files - folder * perFolder) {
                let descriptor = open(String(format: "%@/file%04d.dat", path, index), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else { throw BenchError("cannot create files in \(path)") }
                if index % 10 == 0 { _ = payload.withUnsafeBytes { write(descriptor, $0.baseAddress, (index * 7) % payload.count) } }
                close(descriptor)
            }
        }
        guard FileManager.default.createFile(atPath: marker, contents: nil) else { throw BenchError("cannot write \(marker)") }
    }
}
