"""Equipment types of the demo fab: their sensors (unit, valid range, subsystem, noise) and recipe steps.

Three chamber types cover the three areas: ``PECVD-X`` (CVD), ``DRYETCH-X`` (dry etch) and
``TRACK-X`` (photo coat/bake track). Sensor names are shared between types where the physics
is the same (``RF_REFL_W``, ``THROTTLE_POS_PCT``, ``PUMP_CURRENT_A`` ...), so one fault type can
apply to several processes. The per-step nominal values live in :mod:`fabmind.sim.physics`.
"""

from __future__ import annotations

from dataclasses import dataclass

from fabmind.domain import EquipmentType, Sensor


@dataclass(frozen=True)
class SensorSpec:
    """One chamber sensor as the simulator sees it.

    ``noise`` is the white-noise sigma in the sensor's unit; ``alpha`` the first-order response per
    sample (1 = instant, small = slow thermal); ``active`` the recipe steps where faults and drifts
    show on this sensor (empty = every step).
    """

    name: str
    unit: str
    low: float
    high: float
    subsystem: str
    noise: float
    alpha: float = 0.6
    active: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class TypeSpec:
    """A chamber type: sensors, recipe steps (with their share of the samples), timing and power."""

    type_id: str
    code: str  # tool id prefix: CVD-01
    area_id: str
    name: str
    process: str  # cvd | etch | photo
    steps: tuple[str, ...]
    step_samples: tuple[int, ...]
    dt_s: float
    sensors: tuple[SensorSpec, ...]
    idle_kw: float  # per chamber, idle (not in standby)
    standby_kw: float  # per chamber, standby
    run_kw: float  # per chamber while processing
    base_kw: float  # per tool (mainframe, robot, controls)

    @property
    def n_samples(self) -> int:
        return sum(self.step_samples)

    @property
    def run_seconds(self) -> float:
        return self.n_samples * self.dt_s

    @property
    def sensor_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)

    def sensor_index(self, name: str) -> int:
        for i, s in enumerate(self.sensors):
            if s.name == name:
                return i
        raise KeyError(f"equipment type {self.type_id} has no sensor {name!r}")

    def domain_type(self) -> EquipmentType:
        return EquipmentType(type_id=self.type_id, area_id=self.area_id, name=self.name, process=self.process)

    def domain_sensors(self) -> list[Sensor]:
        return [
            Sensor(type_id=self.type_id, name=s.name, unit=s.unit, low=s.low, high=s.high,
                   subsystem=s.subsystem, description=s.description)
            for s in self.sensors
        ]


S = SensorSpec
_PLASMA_CVD = ("deposit",)
_PLASMA_ETCH = ("main_etch", "over_etch")

PECVD = TypeSpec(
    type_id="PECVD-X", code="CVD", area_id="CVD", name="PECVD cluster tool (G4.5 glass)", process="cvd",
    steps=("pump_down", "stabilize", "deposit", "purge"), step_samples=(6, 8, 20, 6), dt_s=6.0,
    idle_kw=9.0, standby_kw=4.5, run_kw=22.0, base_kw=6.0,
    sensors=(
        S("CHAMBER_PRESS_MTORR", "mTorr", 0, 10000, "vacuum", 6.0, 0.5, (), "chamber pressure (capacitance manometer)"),
        S("FORELINE_PRESS_TORR", "Torr", 0, 20, "vacuum", 0.01, 0.5, (), "foreline pressure at the dry pump inlet"),
        S("THROTTLE_POS_PCT", "%", 0, 100, "vacuum", 0.35, 0.5, ("stabilize", "deposit"), "throttle valve position (0 = closed)"),
        S("PUMP_CURRENT_A", "A", 0, 60, "vacuum", 0.15, 0.4, (), "dry pump motor current"),
        S("PUMP_TEMP_C", "degC", 0, 150, "vacuum", 0.2, 0.2, (), "dry pump body temperature"),
        S("RF_FWD_W", "W", 0, 3000, "rf", 4.0, 0.8, _PLASMA_CVD, "RF generator forward power (13.56 MHz)"),
        S("RF_REFL_W", "W", 0, 300, "rf", 0.8, 0.8, _PLASMA_CVD, "RF reflected power"),
        S("RF_VDC_V", "V", 0, 1000, "rf", 2.0, 0.7, _PLASMA_CVD, "showerhead DC self-bias"),
        S("MATCH_C1_POS_PCT", "%", 0, 100, "rf", 0.3, 0.6, _PLASMA_CVD, "match network load capacitor position"),
        S("MATCH_C2_POS_PCT", "%", 0, 100, "rf", 0.3, 0.6, _PLASMA_CVD, "match network tune capacitor position"),
        S("SIH4_FLOW_SCCM", "sccm", 0, 2000, "gas", 1.0, 0.7, ("stabilize", "deposit"), "SiH4 mass flow controller reading"),
        S("NH3_FLOW_SCCM", "sccm", 0, 10000, "gas", 5.0, 0.7, ("stabilize", "deposit"), "NH3 mass flow controller reading"),
        S("N2O_FLOW_SCCM", "sccm", 0, 10000, "gas", 5.0, 0.7, ("stabilize", "deposit"), "N2O mass flow controller reading"),
        S("N2_FLOW_SCCM", "sccm", 0, 30000, "gas", 15.0, 0.7, (), "N2 mass flow controller reading"),
        S("HEATER_Z1_TEMP_C", "degC", 0, 500, "thermal", 0.3, 0.3, (), "susceptor heater inner zone temperature"),
        S("HEATER_Z2_TEMP_C", "degC", 0, 500, "thermal", 0.3, 0.3, (), "susceptor heater outer zone temperature"),
        S("HEATER_POWER_PCT", "%", 0, 100, "thermal", 0.5, 0.4, (), "heater output power"),
        S("WALL_TEMP_C", "degC", 0, 200, "thermal", 0.2, 0.15, (), "chamber wall temperature"),
        S("LID_TEMP_C", "degC", 0, 200, "thermal", 0.2, 0.15, (), "lid / showerhead temperature"),
        S("SPACING_MM", "mm", 0, 50, "mechanics", 0.02, 0.6, (), "susceptor-to-showerhead spacing"),
        S("CHILLER_FLOW_LPM", "L/min", 0, 30, "cooling", 0.1, 0.5, (), "process cooling water flow"),
        S("CHILLER_TEMP_C", "degC", 0, 60, "cooling", 0.1, 0.3, (), "process cooling water return temperature"),
        S("OES_SIH_INT", "a.u.", 0, 30000, "plasma", 40.0, 0.8, _PLASMA_CVD, "optical emission SiH* line 414 nm"),
        S("OES_N2_INT", "a.u.", 0, 30000, "plasma", 30.0, 0.8, _PLASMA_CVD, "optical emission N2 line 337 nm"),
        S("OES_H_INT", "a.u.", 0, 30000, "plasma", 20.0, 0.8, _PLASMA_CVD, "optical emission H-alpha 656 nm"),
    ),
)

DRYETCH = TypeSpec(
    type_id="DRYETCH-X", code="ETCH", area_id="ETCH", name="ICP dry etch cluster tool (G4.5 glass)", process="etch",
    steps=("stabilize", "main_etch", "over_etch", "purge"), step_samples=(8, 18, 8, 6), dt_s=4.0,
    idle_kw=8.0, standby_kw=4.0, run_kw=26.0, base_kw=6.0,
    sensors=(
        S("CHAMBER_PRESS_MTORR", "mTorr", 0, 1000, "vacuum", 0.3, 0.5, (), "chamber pressure (capacitance manometer)"),
        S("FORELINE_PRESS_TORR", "Torr", 0, 20, "vacuum", 0.01, 0.5, (), "foreline pressure at the dry pump inlet"),
        S("THROTTLE_POS_PCT", "%", 0, 100, "vacuum", 0.35, 0.5, ("stabilize", "main_etch", "over_etch"),
          "throttle valve position (0 = closed)"),
        S("PUMP_CURRENT_A", "A", 0, 60, "vacuum", 0.15, 0.4, (), "turbo/dry pump motor current"),
        S("PUMP_TEMP_C", "degC", 0, 150, "vacuum", 0.2, 0.2, (), "pump body temperature"),
        S("RF_FWD_W", "W", 0, 5000, "rf", 5.0, 0.8, _PLASMA_ETCH, "ICP source RF forward power"),
        S("RF_REFL_W", "W", 0, 500, "rf", 1.0, 0.8, _PLASMA_ETCH, "ICP source RF reflected power"),
        S("BIAS_FWD_W", "W", 0, 3000, "rf", 3.0, 0.8, _PLASMA_ETCH, "bias RF forward power"),
        S("BIAS_REFL_W", "W", 0, 300, "rf", 0.6, 0.8, _PLASMA_ETCH, "bias RF reflected power"),
        S("RF_VDC_V", "V", 0, 1500, "rf", 2.5, 0.7, _PLASMA_ETCH, "substrate DC bias magnitude"),
        S("MATCH_C1_POS_PCT", "%", 0, 100, "rf", 0.3, 0.6, _PLASMA_ETCH, "source match load capacitor position"),
        S("MATCH_C2_POS_PCT", "%", 0, 100, "rf", 0.3, 0.6, _PLASMA_ETCH, "source match tune capacitor position"),
        S("SF6_FLOW_SCCM", "sccm", 0, 2000, "gas", 1.0, 0.7, ("stabilize", "main_etch", "over_etch"), "SF6 MFC reading"),
        S("CL2_FLOW_SCCM", "sccm", 0, 2000, "gas", 1.0, 0.7, ("stabilize", "main_etch", "over_etch"), "Cl2 MFC reading"),
        S("O2_FLOW_SCCM", "sccm", 0, 2000, "gas", 1.0, 0.7, ("stabilize", "main_etch", "over_etch"), "O2 MFC reading"),
        S("AR_FLOW_SCCM", "sccm", 0, 3000, "gas", 1.5, 0.7, (), "Ar MFC reading"),
        S("HE_BACKSIDE_PRESS_TORR", "Torr", 0, 30, "chuck", 0.05, 0.5, ("main_etch", "over_etch"),
          "helium backside cooling pressure"),
        S("HE_BACKSIDE_FLOW_SCCM", "sccm", 0, 50, "chuck", 0.1, 0.5, ("main_etch", "over_etch"), "helium backside leak flow"),
        S("CHUCK_TEMP_C", "degC", -30, 150, "chuck", 0.15, 0.3, (), "electrostatic chuck temperature, centre"),
        S("CHUCK_TEMP_EDGE_C", "degC", -30, 150, "chuck", 0.2, 0.3, (), "electrostatic chuck temperature, edge"),
        S("ESC_VOLTAGE_V", "V", 0, 3000, "chuck", 3.0, 0.7, (), "electrostatic chuck clamp voltage"),
        S("ESC_CURRENT_UA", "uA", 0, 500, "chuck", 0.5, 0.6, ("main_etch", "over_etch"), "electrostatic chuck leakage current"),
        S("WALL_TEMP_C", "degC", 0, 200, "thermal", 0.2, 0.15, (), "chamber wall temperature"),
        S("LID_TEMP_C", "degC", 0, 200, "thermal", 0.2, 0.15, (), "dielectric window / lid temperature"),
        S("CHILLER_FLOW_LPM", "L/min", 0, 30, "cooling", 0.1, 0.5, (), "chiller coolant flow"),
        S("CHILLER_TEMP_C", "degC", -30, 60, "cooling", 0.1, 0.3, (), "chiller coolant supply temperature"),
        S("OES_F_INT", "a.u.", 0, 30000, "plasma", 30.0, 0.8, _PLASMA_ETCH, "optical emission F line 704 nm"),
        S("OES_N2_INT", "a.u.", 0, 30000, "plasma", 15.0, 0.8, _PLASMA_ETCH, "optical emission N2 line 337 nm"),
        S("OES_H_INT", "a.u.", 0, 30000, "plasma", 10.0, 0.8, _PLASMA_ETCH, "optical emission H-alpha 656 nm"),
        S("OES_ENDPOINT_INT", "a.u.", 0, 30000, "plasma", 25.0, 0.5, _PLASMA_ETCH, "end-point detector signal"),
    ),
)

TRACK = TypeSpec(
    type_id="TRACK-X", code="PHO", area_id="PHOTO", name="photoresist coat/bake track (G4.5 glass)", process="photo",
    steps=("hmds", "coat", "soft_bake", "cool"), step_samples=(5, 10, 10, 5), dt_s=3.0,
    idle_kw=5.0, standby_kw=2.5, run_kw=12.0, base_kw=4.0,
    sensors=(
        S("HMDS_FLOW_SCCM", "sccm", 0, 2000, "prime", 3.0, 0.7, ("hmds",), "HMDS vapour prime flow"),
        S("SPIN_SPEED_RPM", "rpm", 0, 5000, "spin", 3.0, 0.6, ("coat",), "spin chuck speed"),
        S("SPIN_MOTOR_CURRENT_A", "A", 0, 20, "spin", 0.02, 0.6, ("coat",), "spin motor current"),
        S("SPIN_VIBRATION_MM_S", "mm/s", 0, 50, "spin", 0.02, 0.6, ("coat",), "spin motor vibration velocity"),
        S("VACUUM_CHUCK_KPA", "kPa", 0, 110, "spin", 0.2, 0.6, ("coat",), "spin chuck vacuum (absolute)"),
        S("PR_DISPENSE_PRESS_KPA", "kPa", 0, 500, "dispense", 1.0, 0.6, ("coat",), "photoresist dispense pressure"),
        S("PR_FLOW_ML_MIN", "mL/min", 0, 200, "dispense", 0.4, 0.6, ("coat",), "photoresist flow"),
        S("PR_TEMP_C", "degC", 0, 50, "dispense", 0.05, 0.3, (), "photoresist temperature at nozzle"),
        S("DISPENSE_PUMP_CURRENT_A", "A", 0, 10, "dispense", 0.01, 0.6, ("coat",), "dispense pump current"),
        S("CUP_EXHAUST_PA", "Pa", 0, 1000, "exhaust", 2.0, 0.5, (), "coater cup exhaust differential pressure"),
        S("CUP_HUMIDITY_PCT", "%", 0, 100, "exhaust", 0.2, 0.3, (), "coater cup relative humidity"),
        S("CUP_TEMP_C", "degC", 0, 50, "exhaust", 0.05, 0.3, (), "coater cup temperature"),
        S("HOTPLATE_TEMP_C", "degC", 0, 250, "bake", 0.1, 0.3, (), "soft-bake hot plate temperature, centre"),
        S("HOTPLATE_EDGE_C", "degC", 0, 250, "bake", 0.12, 0.3, (), "soft-bake hot plate temperature, edge zone"),
        S("HOTPLATE_POWER_PCT", "%", 0, 100, "bake", 0.4, 0.4, (), "hot plate heater power"),
        S("CHILL_PLATE_TEMP_C", "degC", 0, 50, "bake", 0.05, 0.3, (), "chill plate temperature"),
        S("N2_PURGE_FLOW_SLM", "slm", 0, 50, "exhaust", 0.1, 0.5, (), "N2 purge flow"),
    ),
)

TYPES: dict[str, TypeSpec] = {t.type_id: t for t in (PECVD, DRYETCH, TRACK)}
TYPE_BY_PROCESS: dict[str, TypeSpec] = {t.process: t for t in TYPES.values()}
