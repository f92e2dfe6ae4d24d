import AltoModels

/// Entries a scan leaves out, and everything below them. A pattern without a separator is matched against the
/// entry's name (`.snapshot`, `$RECYCLE.BIN`, `*.tmp`); one with a separator against its whole path
/// (`/srv/share/scratch/**`).
public struct ScanExclusions: Sendable {
    private var exactNames: Set<[UInt8]> = []
    private var nameGlobs: [GlobPattern] = []
    private var pathGlobs: [GlobPattern] = []

    public init(patterns: [String]) {
        for pattern in patterns where !pattern.isEmpty {
            if pattern.contains("/") || pattern.contains("\\") {
                pathGlobs.append(GlobPattern(pattern))
            } else if pattern.contains(where: { "*?[".contains($0) }) {
                nameGlobs.append(GlobPattern(pattern))
            } else {
                exactNames.insert(Array(pattern.utf8))
            }
        }
    }

    var isEmpty: Bool { exactNames.isEmpty && nameGlobs.isEmpty && pathGlobs.isEmpty }

    /// `name` is the entry's name as the file system gives it; `path` builds its encoded whole path when needed.
    func excludes(name: UnsafeBufferPointer<UInt8>, path: () -> String) -> Bool {
        if !exactNames.isEmpty, exactNames.contains(Array(name)) { return true }
        if !nameGlobs.isEmpty {
            let text = PathEncoding.encode(Array(name))
            if nameGlobs.contains(where: { $0.matches(text) }) { return true }
        }
        if !pathGlobs.isEmpty {
            let text = path()
            if pathGlobs.contains(where: { $0.matches(text) }) { return true }
        }
        return false
    }
}
