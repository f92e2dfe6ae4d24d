import Foundation

/// Picks the key provider from the environment, the same way in every process that needs one.
///
/// | variable | meaning |
/// | --- | --- |
/// | `ALTO_KEY_PROVIDER` | `local` (default), `vault`, or `none` (copies unencrypted, secrets stored as given) |
/// | `ALTO_KEY_DIR` | the local provider's keyring folder, an absolute path (default: `defaultFolder`) |
/// | `ALTO_VAULT_ADDR`, `ALTO_VAULT_TOKEN` | Vault's address and a token allowed to use the Transit engine |
/// | `ALTO_VAULT_TRANSIT_MOUNT`, `ALTO_VAULT_NAMESPACE` | where Transit is mounted (`transit`), the namespace |
public enum KeyProviders {
    /// - Parameter defaultFolder: where the local keyring is when `ALTO_KEY_DIR` is unset: the agent's is in its
    ///   state folder, the central services' in `.alto/keys` of the folder they start in.
    public static func make(environment: [String: String] = ProcessInfo.processInfo.environment,
                            defaultFolder: String = FileManager.default.currentDirectoryPath + "/.alto/keys") throws -> (any KeyProvider)? {
        switch environment["ALTO_KEY_PROVIDER"] ?? "local" {
        case "none":
            return nil
        case "local":
            let folder = environment["ALTO_KEY_DIR"] ?? defaultFolder
            // A relative folder would follow the working directory, and a process started elsewhere would make a
            // keyring of its own there: copies sealed under it would be lost with it.
            guard folder.hasPrefix("/") else { throw KeyError(.unavailable, "ALTO_KEY_DIR must be an absolute path, not \(folder)") }
            return LocalKeyProvider(folder: URL(fileURLWithPath: folder))
        case "vault":
            guard let address = environment["ALTO_VAULT_ADDR"], let token = environment["ALTO_VAULT_TOKEN"] else {
                throw KeyError(.unavailable, "ALTO_KEY_PROVIDER=vault needs ALTO_VAULT_ADDR and ALTO_VAULT_TOKEN")
            }
            return VaultTransitProvider(address: address, token: token, mount: environment["ALTO_VAULT_TRANSIT_MOUNT"] ?? "transit",
                                        namespace: environment["ALTO_VAULT_NAMESPACE"])
        case let other:
            throw KeyError(.unavailable, "ALTO_KEY_PROVIDER must be local, vault or none, not \(other)")
        }
    }
}
