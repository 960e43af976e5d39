"""Server-endpoint cmdlets: their outputs and their real errors, through pypsrp."""

from __future__ import annotations

import hashlib

from pypsrp.powershell import PowerShell

from remediate.sim import DenyAccess, Simulator
from tests.sim.conftest import (
    DEFAULT_PROFILES,
    SWITCH,
    WEB_CONFIG,
    content_lines,
    error_ids,
    file_bytes,
    messages,
    pool,
    run,
)

SETUP_KEY = "HKLM:\\SOFTWARE\\Microsoft\\ExchangeServer\\v15\\Setup"
GET_CONTENT = "Microsoft.PowerShell.Commands.GetContentCommand"


def read_bytes(runspace_pool: object, path: str) -> bytes:
    shell = run(runspace_pool, "Get-Content", LiteralPath=path, Encoding="Byte", ReadCount=0)
    assert not shell.streams.error, messages(shell)
    return file_bytes(shell)


# -- environment and registry -------------------------------------------------------------------


def test_install_path_from_the_environment(sim: Simulator) -> None:
    with pool(sim) as p:
        entry = run(p, "Get-Item", LiteralPath="Env:\\ExchangeInstallPath").output[0]
    assert entry.adapted_properties["Value"] == "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
    assert entry.extended_properties["Name"] == "ExchangeInstallPath"
    assert entry.types[0] == "System.Collections.DictionaryEntry"


def test_missing_environment_variable(sim: Simulator) -> None:
    with pool(sim) as p:
        shell = run(p, "Get-Item", LiteralPath="Env:\\NoSuchVariable")
    assert shell.output == [] and not shell.had_errors
    assert error_ids(shell) == ["PathNotFound,Microsoft.PowerShell.Commands.GetItemCommand"]
    assert messages(shell) == ["Cannot find path 'Env:\\NoSuchVariable' because it does not exist."]


def test_exchange_setup_registry_values(sim: Simulator) -> None:
    with pool(sim) as p:
        values = run(p, "Get-ItemProperty", LiteralPath=SETUP_KEY).output[0].extended_properties
    assert values["MsiInstallPath"] == "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
    assert (values["MsiProductMajor"], values["MsiProductMinor"]) == (15, 2)
    assert (values["MsiBuildMajor"], values["MsiBuildMinor"]) == (1748, 10)
    assert values["PSChildName"] == "Setup"


def test_registry_errors(sim: Simulator) -> None:
    with pool(sim) as p:
        missing_key = run(p, "Get-ItemProperty", LiteralPath="HKLM:\\SOFTWARE\\Nope")
        missing_value = run(p, "Get-ItemProperty", LiteralPath=SETUP_KEY, Name="Nope")
    assert error_ids(missing_key) == ["PathNotFound,Microsoft.PowerShell.Commands.GetItemPropertyCommand"]
    assert messages(missing_value)[0].startswith(
        "Property Nope does not exist at path HKEY_LOCAL_MACHINE\\SOFTWARE"
    )


# -- Test-Path ------------------------------------------------------------------------------------


def test_test_path(sim: Simulator) -> None:
    with pool(sim) as p:
        results = [
            run(p, "Test-Path", LiteralPath=WEB_CONFIG).output,
            run(p, "Test-Path", LiteralPath=WEB_CONFIG, PathType="Leaf").output,
            run(p, "Test-Path", LiteralPath=WEB_CONFIG.upper(), PathType="Container").output,
            run(p, "Test-Path", LiteralPath="C:\\Program Files", PathType="Container").output,
            run(p, "Test-Path", LiteralPath="C:\\nope").output,
            run(p, "Test-Path", LiteralPath="Env:\\ExchangeInstallPath").output,
            run(p, "Test-Path", LiteralPath=SETUP_KEY).output,
            run(
                p,
                "Test-Path",
                Path="C:\\Program Files\\Microsoft\\Exchange Server\\V15\\FrontEnd\\HttpProxy\\rest\\*.config",
            ).output,
            run(p, "Test-Path", LiteralPath="Q:\\anything").output,
        ]
    assert results == [[True], [True], [False], [True], [False], [True], [True], [True], [False]]


# -- Get-Content / Set-Content / Get-FileHash ---------------------------------------------------------


def test_web_config_has_the_real_default_shape(sim: Simulator) -> None:
    with pool(sim) as p:
        data = read_bytes(p, WEB_CONFIG)
    assert data.startswith(b'\xef\xbb\xbf<?xml version="1.0" encoding="UTF-8"?>\r\n<!--')
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert f'<add key="OAuthHttpModule.Profiles" value="{DEFAULT_PROFILES}" />'.encode() in data
    assert b'requestPathInvalidCharacters="&lt;,&gt;,*,%,\\,?"' in data
    assert b"V1S2SAppOnly" not in data


def test_get_content_as_lines(sim: Simulator) -> None:
    with pool(sim) as p:
        lines = content_lines(run(p, "Get-Content", LiteralPath=WEB_CONFIG))
        first = content_lines(run(p, "Get-Content", LiteralPath=WEB_CONFIG, TotalCount=1))
        raw = content_lines(run(p, "Get-Content", LiteralPath=WEB_CONFIG, Raw=SWITCH))
    assert lines[0] == '<?xml version="1.0" encoding="UTF-8"?>' and lines[-1] == "</configuration>"
    assert first == [lines[0]]
    assert raw[0] == "\r\n".join(lines) + "\r\n"


def test_get_content_errors(sim: Simulator) -> None:
    sim.inject(DenyAccess(server="ex01", path=WEB_CONFIG, operations="read"))
    with pool(sim) as p:
        missing = run(p, "Get-Content", LiteralPath="C:\\nope\\web.config")
        denied = run(p, "Get-Content", LiteralPath=WEB_CONFIG, Encoding="Byte", ReadCount=0)
        directory = run(p, "Get-Content", LiteralPath="C:\\Program Files")
        bad_drive = run(p, "Get-Content", LiteralPath="Q:\\web.config")
        bad_encoding = run(p, "Get-Content", LiteralPath=WEB_CONFIG, Encoding="Klingon")
    assert error_ids(missing) == [f"PathNotFound,{GET_CONTENT}"] and not missing.had_errors
    assert error_ids(denied) == [f"GetContentReaderUnauthorizedAccessError,{GET_CONTENT}"]
    assert messages(denied) == [f"Access to the path '{WEB_CONFIG}' is denied."]
    assert error_ids(directory) == [f"GetContentReaderUnauthorizedAccessError,{GET_CONTENT}"]
    assert error_ids(bad_drive) == [f"DriveNotFound,{GET_CONTENT}"]
    assert bad_encoding.had_errors and error_ids(bad_encoding) == [
        f"CannotConvertArgumentNoMessage,{GET_CONTENT}"
    ]


def test_set_content_writes_exact_bytes(sim: Simulator) -> None:
    payload = bytes(range(256)) * 3 + b"\r\n\xef\xbb\xbf"
    with pool(sim) as p:
        shell = run(p, "Set-Content", LiteralPath="C:\\Temp.bin", Value=payload, Encoding="Byte")
        assert not shell.had_errors and shell.output == []
        assert read_bytes(p, "c:\\temp.BIN") == payload
    assert sim.state("ex01").read(sim.machine("ex01").path("C:\\Temp.bin", "C:\\")) == payload


def test_set_content_text_encodings(sim: Simulator) -> None:
    with pool(sim) as p:
        run(p, "Set-Content", LiteralPath="C:\\a.txt", Value=["one", "two"], Encoding="UTF8")
        run(p, "Set-Content", LiteralPath="C:\\b.txt", Value="x", NoNewline=SWITCH)
        utf8, plain = read_bytes(p, "C:\\a.txt"), read_bytes(p, "C:\\b.txt")
    assert utf8 == b"\xef\xbb\xbfone\r\ntwo\r\n"
    assert plain == b"x"


def test_set_content_errors(sim: Simulator) -> None:
    sim.inject(DenyAccess(server="ex01", path="C:\\Locked", operations="write"))
    set_content = "Microsoft.PowerShell.Commands.SetContentCommand"
    with pool(sim) as p:
        run(p, "New-Item", ItemType="Directory", Path="C:\\Locked")
        no_dir = run(p, "Set-Content", LiteralPath="C:\\NoDir\\x.bin", Value=b"x", Encoding="Byte")
        denied = run(p, "Set-Content", LiteralPath="C:\\Locked\\x.bin", Value=b"x", Encoding="Byte")
        text_as_bytes = run(p, "Set-Content", LiteralPath="C:\\x.bin", Value="text", Encoding="Byte")
        missing_value = run(p, "Set-Content", LiteralPath="C:\\x.bin")
    assert error_ids(no_dir) == [f"GetContentWriterDirectoryNotFoundError,{set_content}"]
    assert messages(no_dir) == ["Could not find a part of the path 'C:\\NoDir\\x.bin'."]
    assert error_ids(denied) == [f"GetContentWriterUnauthorizedAccessError,{set_content}"]
    assert text_as_bytes.had_errors
    assert error_ids(missing_value) == [f"MissingMandatoryParameter,{set_content}"]


def test_get_file_hash(sim: Simulator) -> None:
    with pool(sim) as p:
        data = read_bytes(p, WEB_CONFIG)
        result = run(p, "Get-FileHash", LiteralPath=WEB_CONFIG, Algorithm="SHA256").output[0]
        missing = run(p, "Get-FileHash", LiteralPath="C:\\nope.txt", Algorithm="SHA256")
    assert result.extended_properties["Hash"] == hashlib.sha256(data).hexdigest().upper()
    assert result.extended_properties["Algorithm"] == "SHA256"
    assert result.extended_properties["Path"] == WEB_CONFIG
    assert result.types[0] == "Microsoft.Powershell.Utility.FileHash"
    assert error_ids(missing) == ["PathNotFound,Microsoft.PowerShell.Commands.ResolvePathCommand"]


# -- Copy-Item / Move-Item / Remove-Item / New-Item -------------------------------------------------------


def test_copy_move_remove(sim: Simulator) -> None:
    backup = WEB_CONFIG + ".remediate-test.bak"
    staged = WEB_CONFIG + ".new"
    with pool(sim) as p:
        original = read_bytes(p, WEB_CONFIG)
        assert not run(p, "Copy-Item", LiteralPath=WEB_CONFIG, Destination=backup).streams.error
        run(p, "Set-Content", LiteralPath=staged, Value=b"replacement", Encoding="Byte")
        refused = run(p, "Move-Item", LiteralPath=staged, Destination=WEB_CONFIG)
        assert error_ids(refused) == ["MoveFileInfoItemIOError,Microsoft.PowerShell.Commands.MoveItemCommand"]
        assert not run(p, "Move-Item", LiteralPath=staged, Destination=WEB_CONFIG, Force=SWITCH).streams.error
        assert read_bytes(p, WEB_CONFIG) == b"replacement"
        assert run(p, "Test-Path", LiteralPath=staged).output == [False]
        assert read_bytes(p, backup) == original
        assert not run(p, "Remove-Item", LiteralPath=backup, Force=SWITCH).streams.error
        assert run(p, "Test-Path", LiteralPath=backup).output == [False]
        gone = run(p, "Remove-Item", LiteralPath=backup)
        copy_missing = run(p, "Copy-Item", LiteralPath="C:\\nope", Destination="C:\\x")
    assert error_ids(gone) == ["PathNotFound,Microsoft.PowerShell.Commands.RemoveItemCommand"]
    assert error_ids(copy_missing) == ["PathNotFound,Microsoft.PowerShell.Commands.CopyItemCommand"]


def test_new_item_fails_when_the_file_exists(sim: Simulator) -> None:
    lock = "C:\\ProgramData\\remediate.lock"
    with pool(sim) as p:
        run(p, "New-Item", ItemType="Directory", Path="C:\\ProgramData")
        created = run(p, "New-Item", ItemType="File", Path=lock, Value="run 1")
        again = run(p, "New-Item", ItemType="File", Path=lock, Value="run 2")
        content = read_bytes(p, lock)
    info = created.output[0]
    assert info.types[0] == "System.IO.FileInfo" and info.adapted_properties["FullName"] == lock
    assert messages(again) == [f"The file '{lock}' already exists."]
    assert error_ids(again) == ["NewItemIOError,Microsoft.PowerShell.Commands.NewItemCommand"]
    assert content == b"run 1"


# -- services and IIS ------------------------------------------------------------------------------------


def test_get_service(sim: Simulator) -> None:
    with pool(sim) as p:
        services = run(p, "Get-Service", Name=["W3SVC", "WAS"]).output
        missing = run(p, "Get-Service", Name="NoSuchService")
    assert [s.extended_properties["Name"] for s in services] == ["W3SVC", "WAS"]
    assert all(str(s.adapted_properties["Status"]) == "Running" for s in services)
    assert messages(missing) == ["Cannot find any service with service name 'NoSuchService'."]
    assert error_ids(missing) == [
        "NoServiceFoundForGivenName,Microsoft.PowerShell.Commands.GetServiceCommand"
    ]


def test_restart_iis(sim: Simulator) -> None:
    state = sim.state("ex01")
    before = {pool["name"]: pool["started"] for pool in state.app_pools()}
    with pool(sim) as p:
        shell = run(p, "Restart-Service", Name=["W3SVC", "WAS"], Force=SWITCH)
        statuses = [
            str(s.adapted_properties["Status"]) for s in run(p, "Get-Service", Name=["W3SVC", "WAS"]).output
        ]
        pool_state = run(p, "Get-WebAppPoolState", Name="MSExchangeRestFrontEndAppPool").output[0]
    assert not shell.had_errors and not shell.streams.error
    assert statuses == ["Running", "Running"]
    assert pool_state.extended_properties["Value"] == "Started"
    after = {pool["name"]: pool["started"] for pool in state.app_pools()}
    assert all(after[name] != before[name] for name in before)
    audit = [r for r in sim.audit_records("ex01") if r.command == "Restart-Service"]
    assert audit[0].parameters == [["Name", ["W3SVC", "WAS"]], ["Force", None]] and audit[0].writes


def test_restart_was_without_force_is_refused(sim: Simulator) -> None:
    with pool(sim) as p:
        shell = run(p, "Restart-Service", Name="WAS")
    assert error_ids(shell) == [
        "ServiceHasDependentServices,Microsoft.PowerShell.Commands.RestartServiceCommand"
    ]
    assert sim.state("ex01").service("WAS")["status"] == "Running"


def test_app_pool_recycle(sim: Simulator) -> None:
    with pool(sim) as p:
        shell = run(p, "Restart-WebAppPool", Name="MSExchangeRestFrontEndAppPool")
        missing = run(p, "Restart-WebAppPool", Name="NoSuchPool")
    assert not shell.streams.error
    assert sim.state("ex01").app_pool("MSExchangeRestFrontEndAppPool")["recycles"] == 1
    assert sim.state("ex02").app_pool("MSExchangeRestFrontEndAppPool")["recycles"] == 0
    assert missing.streams.error


# -- the binder and the pipeline ---------------------------------------------------------------------------


def test_unknown_command(sim: Simulator) -> None:
    with pool(sim) as p:
        shell = run(p, "Invoke-Nothing")
    assert shell.had_errors and error_ids(shell) == ["CommandNotFoundException"]
    assert messages(shell)[0].startswith(
        "The term 'Invoke-Nothing' is not recognized as the name of a cmdlet"
    )


def test_parameter_binding_rules(sim: Simulator) -> None:
    with pool(sim) as p:
        prefix = run(p, "Test-Path", Lit="C:\\Program Files")
        alias = run(p, "Test-Path", PSPath="C:\\Program Files")
        positional = run(p, "Test-Path", "C:\\Program Files")
        ambiguous = run(p, "Get-Content", T=WEB_CONFIG)
        unknown = run(p, "Get-Content", LiteralPath=WEB_CONFIG, Bogus=1)
        both_sets = run(p, "Get-Content", LiteralPath=WEB_CONFIG, Path=WEB_CONFIG)
        too_many = run(p, "Test-Path", "C:\\", "C:\\Windows")
    assert prefix.output == alias.output == positional.output == [True]
    assert ambiguous.had_errors and error_ids(ambiguous) == [f"AmbiguousParameter,{GET_CONTENT}"]
    assert messages(ambiguous)[0].endswith("Possible matches include: -TotalCount -Tail.")
    assert messages(unknown) == ["A parameter cannot be found that matches parameter name 'Bogus'."]
    assert error_ids(both_sets) == [f"AmbiguousParameterSet,{GET_CONTENT}"]
    assert error_ids(too_many) == [
        "PositionalParameterNotFound,Microsoft.PowerShell.Commands.TestPathCommand"
    ]


def test_error_action_stop_makes_an_error_terminating(sim: Simulator) -> None:
    with pool(sim) as p:
        shell = run(p, "Get-Content", LiteralPath="C:\\nope", ErrorAction="Stop")
        quiet = run(p, "Get-Content", LiteralPath="C:\\nope", ErrorAction="SilentlyContinue")
    assert shell.had_errors and error_ids(shell) == [f"PathNotFound,{GET_CONTENT}"]
    assert not quiet.had_errors and quiet.streams.error == []


def test_statements_run_in_order(sim: Simulator) -> None:
    with pool(sim) as p:
        shell = PowerShell(p)
        shell.add_cmdlet("Set-Content").add_parameter("LiteralPath", "C:\\s.txt").add_parameter("Value", "1")
        shell.add_statement()
        shell.add_cmdlet("Get-Content").add_parameter("LiteralPath", "C:\\s.txt")
        shell.invoke()
        assert content_lines(shell) == ["1"]


def test_script_text_is_not_interpreted(sim: Simulator) -> None:
    with pool(sim) as p:
        shell = PowerShell(p)
        shell.add_script("Remove-Item C:\\ -Recurse")
        shell.invoke()
    assert shell.had_errors and error_ids(shell) == ["ScriptNotSimulated"]
    assert sim.state("ex01").is_dir(sim.machine("ex01").path("C:\\Program Files", "C:\\"))


def test_values_that_look_like_powershell_stay_literal(sim: Simulator) -> None:
    hostile = "'; Remove-Item C:\\ -Recurse; '$(Get-Date)`n"
    with pool(sim) as p:
        run(p, "Set-Content", LiteralPath="C:\\hostile.txt", Value=hostile, NoNewline=SWITCH)
        assert read_bytes(p, "C:\\hostile.txt") == hostile.encode("cp1252")
    record = next(r for r in sim.audit_records("ex01") if r.command == "Set-Content")
    assert record.parameter("Value") == hostile
    assert [r.command for r in sim.audit_records("ex01")] == ["Set-Content", "Get-Content"]


def test_more_error_paths(sim: Simulator) -> None:
    with pool(sim) as p:
        no_pool = run(p, "Get-WebAppPoolState", Name="NoSuchPool")
        run(p, "Restart-Service", Name="W3SVC", Force=SWITCH)
        move_missing = run(p, "Move-Item", LiteralPath="C:\\nope", Destination="C:\\x")
        no_parent = run(p, "New-Item", ItemType="File", Path="C:\\NoParent\\x.txt")
        unknown_snapin = run(p, "Add-PSSnapin", Name="Contoso.NoSuch.SnapIn")
        missing_mandatory = run(p, "Add-PSSnapin")
    assert messages(no_pool) == ["Cannot find path 'IIS:\\AppPools\\NoSuchPool' because it does not exist."]
    assert error_ids(move_missing) == ["PathNotFound,Microsoft.PowerShell.Commands.MoveItemCommand"]
    assert messages(no_parent) == ["Could not find a part of the path 'C:\\NoParent\\x.txt'."]
    assert messages(unknown_snapin) == [
        "The Windows PowerShell snap-in 'Contoso.NoSuch.SnapIn' is not installed on this computer."
    ]
    assert error_ids(missing_mandatory) == [
        "MissingMandatoryParameter,Microsoft.PowerShell.Commands.AddPSSnapinCommand"
    ]


def test_recycling_a_stopped_app_pool_fails(sim: Simulator) -> None:
    from remediate.sim import RestartFailure

    sim.inject(RestartFailure(server="ex01", mode="fail", service="WAS"))
    with pool(sim) as p:
        run(p, "Restart-Service", Name="WAS", Force=SWITCH)
        shell = run(p, "Restart-WebAppPool", Name="MSExchangeRestFrontEndAppPool")
    assert messages(shell) == [
        "The object identifier does not represent a valid object. (Exception from HRESULT: 0x800710D8)"
    ]


# -- Get-ChildItem, Get-Acl, Set-Acl -------------------------------------------------------------


def test_get_child_item_names_carry_the_provider_notes(sim: Simulator) -> None:
    with pool(sim) as p:
        run(p, "New-Item", ItemType="Directory", Path="C:\\ProgramData\\x\\b")
        run(p, "New-Item", ItemType="File", Path="C:\\ProgramData\\x\\A.txt", Value="1")
        shell = run(p, "Get-ChildItem", LiteralPath="C:\\ProgramData\\x", Name=SWITCH)
        names = [name.property_sets[0] if hasattr(name, "property_sets") else name for name in shell.output]
        assert names == ["A.txt", "b"]  # name order, as NTFS lists them
        assert shell.output[0].extended_properties["PSChildName"] == "A.txt"
        folders = run(p, "Get-ChildItem", LiteralPath="C:\\ProgramData\\x", Directory=SWITCH).output
        assert [f.adapted_properties["Name"] for f in folders] == ["b"]
        missing = run(p, "Get-ChildItem", LiteralPath="C:\\ProgramData\\nothing", Name=SWITCH)
        assert not missing.output
        assert error_ids(missing) == ["PathNotFound,Microsoft.PowerShell.Commands.GetChildItemCommand"]


def test_get_acl_reports_the_descriptor_and_new_items_inherit_it(sim: Simulator) -> None:
    with pool(sim) as p:
        acl = run(p, "Get-Acl", LiteralPath="C:\\ProgramData").output[0]
        assert acl.types[0] == "System.Security.AccessControl.DirectorySecurity"
        assert acl.extended_properties["Sddl"].startswith("O:SYG:SYD:PAI(A;OICI;FA;;;SY)")
        assert acl.extended_properties["Owner"] == "NT AUTHORITY\\SYSTEM"
        assert acl.adapted_properties["AreAccessRulesProtected"] is True
        run(p, "New-Item", ItemType="Directory", Path="C:\\ProgramData\\y")
        child = run(p, "Get-Acl", LiteralPath="C:\\ProgramData\\y").output[0].extended_properties["Sddl"]
        assert child.startswith("O:BAG:SYD:AI") and "(A;OICIID;0x1200a9;;;BU)" in child  # Users may read


def test_set_acl_takes_a_live_descriptor_from_the_pipeline_only(sim: Simulator) -> None:
    with pool(sim) as p:
        run(p, "New-Item", ItemType="Directory", Path="C:\\ProgramData\\z")
        shell = PowerShell(p)
        shell.add_cmdlet("Get-Acl").add_parameter("LiteralPath", "C:\\Windows\\System32\\config")
        shell.add_cmdlet("Set-Acl").add_parameter("LiteralPath", "C:\\ProgramData\\z")
        shell.invoke()
        assert not shell.had_errors, messages(shell)
        sddl = run(p, "Get-Acl", LiteralPath="C:\\ProgramData\\z").output[0].extended_properties["Sddl"]
        assert (
            sddl
            == run(p, "Get-Acl", LiteralPath="C:\\Windows\\System32\\config")
            .output[0]
            .extended_properties["Sddl"]
        )
        # what a client sends is a deserialized descriptor (or a string): not an ObjectSecurity
        refused = run(p, "Set-Acl", LiteralPath="C:\\ProgramData\\z", AclObject="O:BAG:SYD:(A;;FA;;;WD)")
        assert error_ids(refused) == ["SetAcl_AclObject,Microsoft.PowerShell.Commands.SetAclCommand"]
        assert messages(refused) == ["AclObject"]
