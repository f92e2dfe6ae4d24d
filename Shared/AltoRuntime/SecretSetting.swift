import Configuration

/// A secret a deployment must choose itself: the API's session and audit keys, its admin token. A known value (the
/// placeholders the shipped files carried, a development default) or one too short to resist guessing would let
/// anyone who read this repository sign sessions or forge the audit trail, so it is refused, naming the variable,
/// unless `ALTO_DEVELOPMENT=true` says this is a developer's machine.
public enum SecretSetting {
    /// Fewer characters than this are taken for a placeholder.
    public static let minimumLength = 24

    public struct Problem: Error, CustomStringConvertible {
        public var description: String
    }

    /// Whether the process runs on a developer's machine (`ALTO_DEVELOPMENT`), where missing secrets get defaults.
    public static func isDevelopment(_ reader: ConfigReader) -> Bool {
        reader.bool(forKey: "alto.development", default: false)
    }

    /// The secret at `key` (environment variable `variable`); when it is unset, `developmentDefault` in
    /// development and an error elsewhere (or nil when `optional`).
    public static func value(_ reader: ConfigReader, key: ConfigKey, variable: String, developmentDefault: String?,
                             optional: Bool = false) throws(Problem) -> String? {
        let development = isDevelopment(reader)
        let value = reader.string(forKey: key, isSecret: true, default: "")
        guard !value.isEmpty else {
            if optional { return nil }
            if development, let developmentDefault { return developmentDefault }
            throw Problem(description: "\(variable) must be set to a secret of at least \(minimumLength) random characters "
                          + "(for example `openssl rand -hex 32`), or ALTO_DEVELOPMENT=true on a developer's machine")
        }
        if !development && isPlaceholder(value) {
            throw Problem(description: "\(variable) is a placeholder or too short: set it to at least \(minimumLength) random characters "
                          + "(for example `openssl rand -hex 32`)")
        }
        return value
    }

    /// A value no deployment may keep: shorter than `minimumLength`, a shipped placeholder, or a development default.
    public static func isPlaceholder(_ value: String) -> Bool {
        let lowered = value.lowercased()
        return value.count < minimumLength || lowered.contains("change-me") || lowered.contains("changeme")
            || ["alto-dev-admin", "alto-development-audit-key"].contains(lowered)
    }
}
