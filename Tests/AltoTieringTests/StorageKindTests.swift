import AltoModels
import AltoTiering
import Foundation
import Testing

/// Each kind of tier-2 storage as the API checks it and the agent makes it, from the one description each has.
@Suite struct StorageKindTests {
    static let kinds: [(StorageTargetReference.Kind, good: String, bad: [String])] = [
        (.filesystem, "/srv/tier2", ["srv/tier2", "", "s3://bucket"]),
        (.smb, "//nas.example/tier2/alto", ["nas/tier2", "//nas", "smb:/nas/tier2"]),
        (.s3, "s3://alto-tier2/fs01", ["s3://", "s3://Upper", "s3://ab", "https://alto-tier2", "s3://under_score"]),
        (.azureBlob, "https://acct.blob.core.windows.net/tier2", ["http://acct.blob.core.windows.net/tier2", "https://acct.blob.core.windows.net",
                                                                "acct/tier2"]),
    ]

    static let complete: [StorageTargetReference.Kind: [String: String]] = [
        .filesystem: [:], .smb: ["username": "alto", "password": "secret"],
        .s3: ["access_key_id": "AKID", "secret_access_key": "shh"], .azureBlob: ["sas_token": "sv=2021"],
    ]

    @Test func everyKindIsDescribedOnce() {
        #expect(StorageKind.all.map(\.name) == [.filesystem, .smb, .s3, .azureBlob])
        #expect(Set(StorageKind.all.map(\.name.rawValue)).count == StorageKind.all.count)
        #expect(StorageKind.named(StorageTargetReference.Kind(rawValue: "ftp")) == nil)
    }

    @Test func aGoodLocationWithWhatTheKindNeedsPasses() throws {
        for (name, good, _) in Self.kinds {
            let kind = try #require(StorageKind.named(name))
            #expect(kind.problem(location: good, settings: Self.complete[name]!) == nil, "\(name)")
        }
    }

    @Test func aLocationOfTheWrongFormIsRefusedWithTheFormToUse() throws {
        for (name, _, bad) in Self.kinds {
            let kind = try #require(StorageKind.named(name))
            for location in bad {
                let problem = kind.problem(location: location, settings: Self.complete[name]!)
                #expect(problem?.field == "location", "\(name) \(location)")
            }
        }
    }

    @Test func anUnknownSettingIsRefusedAndNamesWhatTheKindReads() throws {
        let s3 = try #require(StorageKind.named(.s3))
        let problem = s3.problem(location: "s3://alto-tier2", settings: ["access_key_id": "AKID", "secret_access_key": "x", "acl": "private"])
        #expect(problem?.field == "settings.acl")
        #expect(problem?.message.contains("endpoint, region, access_key_id") == true, "\(problem?.message ?? "")")
        #expect(s3.problem(location: "s3://alto-tier2", settings: ["access_key_id": "AKID", "secret_access_key": "x", "compression": "zstd"]) == nil,
                "compression is read by every kind")
    }

    @Test func whatAKindCannotWorkWithoutIsRequiredUnlessAlreadyKept() throws {
        let smb = try #require(StorageKind.named(.smb))
        #expect(smb.problem(location: "//nas/tier2", settings: ["password": "x"])?.field == "settings.username")
        #expect(smb.problem(location: "//nas/tier2", settings: ["username": "alto"])?.field == "settings.password")
        #expect(smb.problem(location: "//nas/tier2", settings: ["username": "alto"], storedCredentials: ["password"]) == nil,
                "an update need not send a kept password again")
        let azure = try #require(StorageKind.named(.azureBlob))
        let missing = azure.problem(location: "https://acct.blob.core.windows.net/tier2", settings: [:])
        #expect(missing?.message == "a target of kind azure_blob needs account_key or sas_token")
        #expect(azure.problem(location: "https://acct.blob.core.windows.net/tier2", settings: ["account_key": "a2V5"]) == nil)
    }

    @Test func credentialsAreTheSettingsMarkedSecret() throws {
        #expect(StorageKind.named(.filesystem)?.secretNames == [])
        #expect(StorageKind.named(.smb)?.secretNames == ["password"])
        #expect(StorageKind.named(.s3)?.secretNames == ["secret_access_key", "session_token"])
        #expect(StorageKind.named(.azureBlob)?.secretNames == ["account_key", "sas_token"])
    }

    @Test func eachKindMakesItsOwnStore() throws {
        func store(_ name: StorageTargetReference.Kind, _ location: String) throws -> any TierStore {
            let settings = Self.complete[name]!
            let kind = try #require(StorageKind.named(name))
            return try kind.makeStore(for: StorageTargetReference(
                id: UUID(), kind: name, location: location,
                settings: settings.filter { !kind.secretNames.contains($0.key) }, secrets: settings.filter { kind.secretNames.contains($0.key) }))
        }
        #expect(try (store(.filesystem, "/srv/tier2") as? FilesystemStore)?.root == "/srv/tier2")
        #expect(try (store(.smb, "//nas/tier2/alto") as? SMBStore)?.root == "smb://nas/tier2/alto")
        let s3 = try #require(try store(.s3, "s3://alto-tier2/fs01/") as? S3Store)
        #expect(s3.bucket == "alto-tier2" && s3.prefix == "fs01/")
        #expect(try (store(.azureBlob, "https://acct.blob.core.windows.net/tier2") as? AzureBlobStore)?.containerURL
                == "https://acct.blob.core.windows.net/tier2")
    }
}
