/// A rule's path criterion, compiled once: its globs and its regular expression, in the case mode the rule asks for
/// (or both modes, when the rule leaves it to each path to say whether it is a Windows path).
struct PathMatcher: Sendable {
    /// `Regex` is not `Sendable`; it is only read after compilation, so sharing it is safe.
    struct SendableRegex: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
    }

    private let sensitiveGlobs: [GlobPattern]
    private let foldingGlobs: [GlobPattern]
    private let sensitiveRegex: SendableRegex?
    private let foldingRegex: SendableRegex?
    /// nil: by path style.
    private let caseSensitive: Bool?

    /// nil when the rule has no path criterion.
    init?(rule: TieringRule) throws(RuleProblem) {
        let regex = rule.pathRegex.flatMap { $0.isEmpty ? nil : $0 }
        guard !rule.pathGlobs.isEmpty || regex != nil else { return nil }
        caseSensitive = rule.caseSensitive
        let needsSensitive = rule.caseSensitive != false
        let needsFolding = rule.caseSensitive != true
        sensitiveGlobs = needsSensitive ? rule.pathGlobs.map { GlobPattern($0, caseSensitive: true) } : []
        foldingGlobs = needsFolding ? rule.pathGlobs.map { GlobPattern($0, caseSensitive: false) } : []
        if let regex {
            do {
                let compiled = try Regex(regex)
                sensitiveRegex = needsSensitive ? SendableRegex(regex: compiled) : nil
                foldingRegex = needsFolding ? SendableRegex(regex: compiled.ignoresCase()) : nil
            } catch {
                throw RuleProblem(field: "path_regex", message: "does not compile: \(error)")
            }
        } else {
            sensitiveRegex = nil
            foldingRegex = nil
        }
    }

    func matches(_ path: String, bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let folding = caseSensitive.map { !$0 } ?? Self.isWindowsPath(bytes)
        for glob in folding ? foldingGlobs : sensitiveGlobs where glob.matches(bytes) { return true }
        guard let regex = folding ? foldingRegex : sensitiveRegex else { return false }
        return (try? regex.regex.wholeMatch(in: path)) != nil
    }

    /// `C:\…`, `C:/…` or a UNC path `\\server\share\…`.
    static func isWindowsPath(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 2 else { return false }
        if bytes[0] == UInt8(ascii: "\\") && bytes[1] == UInt8(ascii: "\\") { return true }
        let letter = bytes[0] | 0x20
        return bytes.count >= 3 && letter >= UInt8(ascii: "a") && letter <= UInt8(ascii: "z")
            && bytes[1] == UInt8(ascii: ":") && (bytes[2] == UInt8(ascii: "\\") || bytes[2] == UInt8(ascii: "/"))
    }
}
