"""`refresh_variant_configuration`: make the server's Exchange processes read setting overrides
now (`Get-ExchangeDiagnosticInfo -Process Microsoft.Exchange.Directory.TopologyService
-Component VariantConfiguration -Argument Refresh`), as Microsoft documents after
New-/Remove-SettingOverride; a restart of IIS (`restart_iis`) usually follows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from remediate.kinds.handlers import Services


class RefreshVariantConfiguration(BaseModel):
    """Refresh the variant configuration (setting overrides) on the server."""

    model_config = ConfigDict(extra="forbid")


class _Refresh:
    kind = "refresh_variant_configuration"
    spec = RefreshVariantConfiguration

    def commands(self, spec: RefreshVariantConfiguration) -> list[str]:
        return [
            "Get-ExchangeDiagnosticInfo -Process Microsoft.Exchange.Directory.TopologyService "
            "-Component VariantConfiguration -Argument Refresh"
        ]

    def baseline(self, spec: RefreshVariantConfiguration, services: Services) -> dict[str, str]:
        return {}

    def run(self, spec: RefreshVariantConfiguration, services: Services, before: dict[str, str]) -> list[str]:
        services.refresh_variant_configuration()
        return []

    def health(
        self, spec: RefreshVariantConfiguration, services: Services, before: dict[str, str]
    ) -> str | None:
        return None


HANDLER = _Refresh()
