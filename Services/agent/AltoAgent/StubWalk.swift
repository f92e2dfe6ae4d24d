import AltoTiering
import Foundation

/// The stubs a bulk recall names: each path that is a stub, and every stub below each folder.
enum StubWalk {
    static func stubs(under paths: [String]) -> [String] {
        var found: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
                found.append(path)
                continue
            }
            guard isFolder.boolValue else {
                found.append(path)
                continue
            }
            let entries = FileManager.default.enumerator(atPath: path)
            while let entry = entries?.nextObject() as? String {
                let full = path + "/" + entry
                if (try? StubFile.record(at: full)) != nil { found.append(full) }
            }
        }
        return found
    }
}
