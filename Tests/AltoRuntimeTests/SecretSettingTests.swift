import AltoRuntime
import Testing

/// No service runs with a secret anyone could read in the repository: an unset, placeholder or short secret stops it
/// with a message naming the variable, unless it is told it runs on a developer's machine.
@Suite struct SecretSettingTests {
    func audit(_ variables: [String: String]) throws(SecretSetting.Problem) -> String? {
        try SecretSetting.value(RuntimeSettings.environment(variables), key: "alto.audit.key", variable: "ALTO_AUDIT_KEY",
                                developmentDefault: "alto-development-audit-key")
    }

    @Test func unsetPlaceholderAndShortSecretsAreRefusedByName() {
        for variables in [[:], ["ALTO_AUDIT_KEY": "change-me-to-another-long-random-secret"], ["ALTO_AUDIT_KEY": "hunter2"],
                          ["ALTO_AUDIT_KEY": "alto-development-audit-key"]] {
            #expect(throws: SecretSetting.Problem.self, "\(variables)") { _ = try audit(variables) }
            do { _ = try audit(variables) } catch { #expect(error.description.contains("ALTO_AUDIT_KEY")) }
        }
    }

    @Test func aChosenSecretIsKeptAndDevelopmentGetsItsDefault() throws {
        let chosen = String(repeating: "7f", count: 32)
        #expect(try audit(["ALTO_AUDIT_KEY": chosen]) == chosen)
        #expect(try audit(["ALTO_DEVELOPMENT": "true"]) == "alto-development-audit-key")
    }

    @Test func theAdminTokenIsOffUnlessSet() throws {
        let reader = RuntimeSettings.environment([:])
        #expect(try SecretSetting.value(reader, key: "alto.admin.token", variable: "ALTO_ADMIN_TOKEN", developmentDefault: nil,
                                        optional: true) == nil)
        #expect(throws: SecretSetting.Problem.self) {
            _ = try SecretSetting.value(RuntimeSettings.environment(["ALTO_ADMIN_TOKEN": "alto-dev-admin"]), key: "alto.admin.token",
                                        variable: "ALTO_ADMIN_TOKEN", developmentDefault: nil, optional: true)
        }
    }
}
