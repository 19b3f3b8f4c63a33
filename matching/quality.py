"""The quality limits a need may set on an offer's stated properties (read by the comparison and by blocking)."""

# need property -> (offer property, the offer value must be at least / at most the need's, name, unit)
QUALITY_LIMITS = {
    "min_temperature_c": ("temperature_c", "min", "temperature", "°C"),
    "max_temperature_c": ("temperature_c", "max", "temperature", "°C"),
    "max_moisture_pct": ("moisture_pct", "max", "moisture", "%"),
    "min_purity_pct": ("purity_pct", "min", "purity", "%"),
    "max_loi_pct": ("loi_pct", "max", "loss on ignition", "%"),
    "max_chloride_pct": ("chloride_pct", "max", "chloride", "%"),
    "min_calorific_value_mj_kg": ("calorific_value_mj_kg", "min", "calorific value", "MJ/kg"),
    "max_particle_size_mm": ("particle_size_mm", "max", "particle size", "mm"),
    "ph_min": ("ph", "min", "pH", ""),
    "ph_max": ("ph", "max", "pH", ""),
    "max_cod_mg_l": ("cod_mg_l", "max", "COD", "mg/l"),
}
# The quality value of a pair whose need sets no limit: below a verified fit, above an unverified one.
UNSTATED_QUALITY = 0.7


def number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
