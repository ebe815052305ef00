"""Jurisdictions as data: US state and local sales tax, UK and EU VAT, and the tax code catalogue.

This is a table the tests pin, not a rate service. US rates are representative combined rates (state plus the
county, city and special-district parts AvaTax reports separately) for a handful of states and cities; VAT rates are
the standard rates. Change a number here and the tests that pin it change with it.

Taxability is per (tax code prefix, jurisdiction): the longest matching prefix wins, and an unlisted code is
tangible personal property (`P0000000`, taxed in full wherever there is a rate; help.avalara.com "What will happen
if I do not map items to a tax code?"). Services (`S...`) are untaxed unless the state taxes them: Hawaii, New
Mexico, South Dakota and West Virginia tax services broadly; Texas taxes data processing on 80% of its value
(a simulator stand-in for its rule). Clothing (`PC040100`) is exempt in Pennsylvania and Minnesota and taxed in
Texas and Alabama (help.avalara.com Tax Codes FAQ). `NT` is non-taxable everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

D = Decimal


@dataclass(frozen=True)
class Rate:
    """One taxing authority's part of a rate. `juris_type` is AvaTax's JurisTypeId: STA, CTY, CIT, STJ, CNT."""

    juris_type: str
    juris_code: str
    juris_name: str
    rate: Decimal


@dataclass(frozen=True)
class City:
    name: str
    county: str
    postal_prefix: str  # the first digits of its ZIP codes (address resolution checks them)
    latitude: Decimal
    longitude: Decimal
    local: tuple[Rate, ...]


@dataclass(frozen=True)
class UsState:
    code: str
    name: str
    fips: str
    rate: Decimal
    tax_name: str = "SALES TAX"
    taxability: dict[str, Decimal] = field(default_factory=dict)  # code prefix -> taxable fraction
    default_local: tuple[Rate, ...] = ()  # a city not in `cities`
    cities: dict[str, City] = field(default_factory=dict)


def _city(name: str, county: str, postal_prefix: str, lat: str, lon: str, *parts: tuple[str, str, str, str]) -> City:
    return City(name, county, postal_prefix, D(lat), D(lon), tuple(Rate(t, c, n, D(r)) for t, c, n, r in parts))


_SERVICES_TAXED = {"S": D(1)}
_CLOTHING_EXEMPT = {"PC04": D(0)}

US_STATES: dict[str, UsState] = {s.code: s for s in (
    UsState("CA", "CALIFORNIA", "06", D("0.06"),
            default_local=(Rate("CTY", "000", "COUNTY", D("0.0025")), Rate("STJ", "EMAL0", "LOCAL DISTRICT", D("0.01"))),
            cities={"IRVINE": _city("IRVINE", "ORANGE", "926", "33.6846", "-117.8265",
                                    ("CTY", "059", "ORANGE", "0.0025"),
                                    ("STJ", "EMTV0", "ORANGE CO LOCAL TAX SL", "0.01"),
                                    ("STJ", "EMBE0", "ORANGE COUNTY DISTRICT TAX SP", "0.005")),
                    "SAN FRANCISCO": _city("SAN FRANCISCO", "SAN FRANCISCO", "941", "37.7749", "-122.4194",
                                           ("CTY", "075", "SAN FRANCISCO", "0.0025"),
                                           ("STJ", "EMAZ0", "SAN FRANCISCO CO LOCAL TAX SL", "0.01"),
                                           ("STJ", "EMBP0", "SAN FRANCISCO CO DISTRICT TAX SP", "0.01375"))}),
    UsState("NY", "NEW YORK", "36", D("0.04"),
            default_local=(Rate("CTY", "000", "COUNTY", D("0.04")),),
            cities={"NEW YORK": _city("NEW YORK", "NEW YORK", "100", "40.7128", "-74.0060",
                                      ("CIT", "51000", "NEW YORK CITY", "0.045"),
                                      ("STJ", "MCTD", "METROPOLITAN COMMUTER TRANSPORTATION DISTRICT", "0.00375"))}),
    UsState("TX", "TEXAS", "48", D("0.0625"), taxability={"SC12": D("0.8")},
            default_local=(Rate("CIT", "000", "CITY", D("0.01")), Rate("STJ", "000", "TRANSIT", D("0.01"))),
            cities={"AUSTIN": _city("AUSTIN", "TRAVIS", "787", "30.2672", "-97.7431",
                                    ("CIT", "2227000", "AUSTIN", "0.01"),
                                    ("STJ", "3227994", "AUSTIN MTA TRANSIT", "0.01"))}),
    UsState("WA", "WASHINGTON", "53", D("0.065"),
            default_local=(Rate("CIT", "000", "CITY", D("0.02")),),
            cities={"SEATTLE": _city("SEATTLE", "KING", "981", "47.6062", "-122.3321",
                                     ("CIT", "1726", "SEATTLE", "0.0235"),
                                     ("STJ", "1726R", "SEATTLE RTA", "0.014"))}),
    UsState("IL", "ILLINOIS", "17", D("0.0625"),
            default_local=(Rate("CTY", "000", "COUNTY", D("0.0175")),),
            cities={"CHICAGO": _city("CHICAGO", "COOK", "606", "41.8781", "-87.6298",
                                     ("CTY", "031", "COOK", "0.0175"),
                                     ("CIT", "14000", "CHICAGO", "0.0125"),
                                     ("STJ", "RTA", "REGIONAL TRANSPORTATION AUTHORITY", "0.01"))}),
    UsState("PA", "PENNSYLVANIA", "42", D("0.06"), taxability=_CLOTHING_EXEMPT,
            cities={"PHILADELPHIA": _city("PHILADELPHIA", "PHILADELPHIA", "191", "39.9526", "-75.1652",
                                          ("CIT", "60000", "PHILADELPHIA", "0.02"))}),
    UsState("MN", "MINNESOTA", "27", D("0.06875"), taxability=_CLOTHING_EXEMPT,
            default_local=(Rate("CTY", "000", "COUNTY", D("0.005")),)),
    UsState("AL", "ALABAMA", "01", D("0.04"),
            default_local=(Rate("CTY", "000", "COUNTY", D("0.01")), Rate("CIT", "000", "CITY", D("0.04")))),
    UsState("FL", "FLORIDA", "12", D("0.06"), default_local=(Rate("CTY", "000", "COUNTY SURTAX", D("0.01")),)),
    UsState("MA", "MASSACHUSETTS", "25", D("0.0625")),
    UsState("NJ", "NEW JERSEY", "34", D("0.06625")),
    UsState("CO", "COLORADO", "08", D("0.029"),
            cities={"DENVER": _city("DENVER", "DENVER", "802", "39.7392", "-104.9903",
                                    ("CIT", "16000", "DENVER", "0.0481"),
                                    ("STJ", "RTD", "REGIONAL TRANSPORTATION DISTRICT", "0.01"),
                                    ("STJ", "SCFD", "SCIENTIFIC AND CULTURAL FACILITIES DISTRICT", "0.001"))}),
    UsState("HI", "HAWAII", "15", D("0.04"), tax_name="GENERAL EXCISE TAX", taxability=_SERVICES_TAXED,
            default_local=(Rate("CTY", "003", "HONOLULU COUNTY SURCHARGE", D("0.005")),)),
    UsState("NM", "NEW MEXICO", "35", D("0.04875"), tax_name="GROSS RECEIPTS TAX", taxability=_SERVICES_TAXED,
            default_local=(Rate("CTY", "000", "COUNTY", D("0.0275")),)),
    UsState("SD", "SOUTH DAKOTA", "46", D("0.042"), taxability=_SERVICES_TAXED,
            default_local=(Rate("CIT", "000", "CITY", D("0.02")),)),
    UsState("WV", "WEST VIRGINIA", "54", D("0.06"), taxability=_SERVICES_TAXED,
            default_local=(Rate("CIT", "000", "CITY", D("0.01")),)),
    # No state sales tax: a valid address, no tax.
    UsState("OR", "OREGON", "41", D("0")),
    UsState("DE", "DELAWARE", "10", D("0")),
    UsState("MT", "MONTANA", "30", D("0")),
    UsState("NH", "NEW HAMPSHIRE", "33", D("0")),
)}

# VAT: standard rates of the UK and the EU member states this catalogue holds.
VAT_STANDARD: dict[str, tuple[str, Decimal]] = {
    "GB": ("UNITED KINGDOM", D("0.20")),
    "DE": ("GERMANY", D("0.19")),
    "FR": ("FRANCE", D("0.20")),
    "IE": ("IRELAND", D("0.23")),
    "NL": ("NETHERLANDS", D("0.21")),
    "ES": ("SPAIN", D("0.21")),
    "IT": ("ITALY", D("0.22")),
    "BE": ("BELGIUM", D("0.21")),
    "SE": ("SWEDEN", D("0.25")),
    "PL": ("POLAND", D("0.23")),
}
EU = frozenset(VAT_STANDARD) - {"GB"}
# The VAT taxability of a code prefix (services and goods are both standard-rated unless listed).
VAT_TAXABILITY: dict[str, Decimal] = {"": D(1), "NT": D(0)}

# Default taxability of a code prefix where the jurisdiction lists nothing.
DEFAULT_TAXABILITY: dict[str, Decimal] = {"P": D(1), "S": D(0), "NT": D(0)}


@dataclass(frozen=True)
class TaxCode:
    code: str
    code_type: str  # AvaTax taxCodeTypeId: P product, S service, N non-taxable
    description: str
    is_physical: bool


TAX_CODES: dict[str, TaxCode] = {t.code: t for t in (
    TaxCode("P0000000", "P", "Tangible personal property (the default for an unmapped item)", True),
    TaxCode("PC040100", "P", "Clothing and related products (B2C)-general", True),
    TaxCode("SC070000", "S", "Implementation services associated with the sale of software", False),
    TaxCode("SC080000", "S", "Implementation and professional services not associated with the sale of software", False),
    TaxCode("SC120000", "S", "Software technical services", False),
    TaxCode("NT", "N", "Non-taxable", False),
)}


def taxable_fraction(code: str, rules: dict[str, Decimal]) -> Decimal:
    """The part of a line's amount that is taxable for `code` under `rules` (longest prefix), else the default."""
    for table in (rules, DEFAULT_TAXABILITY):
        best = max((p for p in table if code.startswith(p)), key=len, default=None)
        if best is not None:
            return table[best]
    return D(1)
