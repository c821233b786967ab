"""Settings: the spec a connector declares, and `configure`'s values read against it: trimmed,
typed, defaults applied, unknown names and secrets refused, each error naming the setting (the
runtime passes values raw and fills in no default)."""

from .errors import invalid_config
from .wit import types as t


def _spec(name, description, value_type, required=False, default=None, narrows=False, env=()):
    return t.SettingSpec(name=name, description=description, required=required, default_value=default,
                         credential=None, suggested_env=list(env), value_type=value_type, narrows=narrows)


def text(name, description, **kw):
    return _spec(name, description, t.SettingType.TEXT, **kw)


def boolean(name, description, **kw):
    return _spec(name, description, t.SettingType.BOOLEAN, **kw)


def list_of(name, description, **kw):
    return _spec(name, description, t.SettingType.LIST, **kw)


def url(name, description, **kw):
    return _spec(name, description, t.SettingType.URL, **kw)


def integer(name, description, **kw):
    return _spec(name, description, t.SettingType.INTEGER, **kw)


def secret(name, description, scheme, origin_setting, env=()):
    spec = _spec(name, description, t.SettingType.TEXT, required=True, env=env)
    spec.credential = t.Credential(scheme=scheme, origin_setting=origin_setting)
    return spec


def header_credential(name, prefix=None):
    return t.CredentialScheme_Header(t.HeaderCredential(name=name, prefix=prefix))


BEARER = t.CredentialScheme_Bearer()


def spec(name, vendor, description, version, settings, base_url=None, tenant=None, resource_types=()):
    return t.ConnectorSpec(name=name, version=version, vendor=vendor, settings=list(settings),
                           base_url_setting=base_url, tenant_setting=tenant,
                           resource_types=list(resource_types), description=description)


def invalid(name, message):
    return invalid_config(f"setting `{name}`: {message}")


def parse_bool(value):
    v = value.strip().lower()
    if v in ("true", "yes", "on", "1"):
        return True
    if v in ("false", "no", "off", "0"):
        return False
    return None


def _parse(definition, raw):
    value = raw.strip()
    if not value:
        return None
    kind = definition.value_type
    if kind == t.SettingType.BOOLEAN:
        flag = parse_bool(value)
        if flag is None:
            raise invalid(definition.name, f"{value!r} is not a boolean (true or false; yes/no, on/off and 1/0 are taken too)")
        return flag
    if kind == t.SettingType.LIST:
        return [item.strip() for item in value.split(",") if item.strip()]
    if kind == t.SettingType.URL:
        trimmed = value.rstrip("/")
        scheme, sep, rest = trimmed.partition("://")
        if not sep or scheme not in ("http", "https") or not rest or rest.startswith("/") or any(c in rest for c in "?# "):
            raise invalid(definition.name, f"{value!r} is not an absolute http(s) URL such as https://api.example.com")
        return trimmed
    if kind == t.SettingType.INTEGER:
        try:
            return int(value)
        except ValueError:
            raise invalid(definition.name, f"{value!r} is not a whole number") from None
    return value


class Settings:
    """The values of one `configure`, read against `spec`."""

    def __init__(self, spec, given):
        by_name = {d.name: d for d in spec.settings}
        values = {}
        for setting in given:
            definition = by_name.get(setting.name)
            if definition is None:
                known = ", ".join(d.name for d in spec.settings if d.credential is None)
                raise invalid(setting.name, f"unknown; this connector takes {known}")
            if definition.credential is not None:
                raise invalid(setting.name, "is secret: the runtime keeps it and attaches it to requests; it must not be passed to the component")
            if setting.name in values:
                raise invalid(setting.name, "given twice")
            parsed = _parse(definition, setting.value)
            if parsed is not None:
                values[setting.name] = parsed
        for definition in spec.settings:
            if definition.credential is not None or definition.name in values:
                continue
            default = None if definition.default_value is None else _parse(definition, definition.default_value)
            if default is not None:
                values[definition.name] = default
            elif definition.required:
                raise invalid(definition.name, f"required ({definition.description})")
        self.values = values

    def get(self, name, default=None):
        return self.values.get(name, default)
