"""The plant's configuration: typed, read from TOML, validated strictly, edited keeping comments.

Reading a file needs the kinds of source it may name (`load_config(path, kinds)`);
`oee_tui.drivers.registry` has the same functions bound to every kind there is.
"""

from oee_tui.config.central_settings import SSL_MODES, CentralSettings
from oee_tui.config.edge_settings import EDGE_QOS, EdgeConfig
from oee_tui.config.kinds import SourceKind, SourceKinds, TagProblem
from oee_tui.config.loading import config_from_dict, load_config, parse_config
from oee_tui.config.mqtt_rules import MQTT_VERSIONS, TLS_PAIR_PROBLEM, is_topic_level
from oee_tui.config.plant import (
    APP_NAME,
    BYTE_ORDERS,
    CONFIG_FILENAME,
    COUNTER_WIDTHS,
    DEFAULT_STATE_MAP,
    Config,
    LineConfig,
    MachineConfig,
    SiteConfig,
    TagMapping,
    Targets,
    default_config_path,
    default_data_dir,
)
from oee_tui.config.reasons import DEFAULT_REASONS, Reason
from oee_tui.config.service_settings import LOG_FORMATS, MetricsAddress, ServiceSettings
from oee_tui.config.shift_times import BreakConfig, ShiftConfig
from oee_tui.config.sources import COMMON_KEYS, CommonKeys, SourceConfig
from oee_tui.config.store_settings import StoreConfig
from oee_tui.config.toml_reader import ConfigError, TomlReader, TomlTable

__all__ = [
    "APP_NAME",
    "BYTE_ORDERS",
    "COMMON_KEYS",
    "CONFIG_FILENAME",
    "COUNTER_WIDTHS",
    "DEFAULT_REASONS",
    "DEFAULT_STATE_MAP",
    "EDGE_QOS",
    "LOG_FORMATS",
    "MQTT_VERSIONS",
    "SSL_MODES",
    "TLS_PAIR_PROBLEM",
    "BreakConfig",
    "CentralSettings",
    "CommonKeys",
    "Config",
    "ConfigError",
    "EdgeConfig",
    "LineConfig",
    "MachineConfig",
    "MetricsAddress",
    "Reason",
    "ServiceSettings",
    "ShiftConfig",
    "SiteConfig",
    "SourceConfig",
    "SourceKind",
    "SourceKinds",
    "StoreConfig",
    "TagMapping",
    "TagProblem",
    "Targets",
    "TomlReader",
    "TomlTable",
    "config_from_dict",
    "default_config_path",
    "default_data_dir",
    "is_topic_level",
    "load_config",
    "parse_config",
]
