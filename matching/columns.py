"""Column names shared by every frame in the pipeline: one place to look them up."""

# seekers (canonical, after ingest)
SEEKER_ID = "seeker_id"
MOBILE = "mobile"
COMMUNE = "commune"
RADIUS_KM = "radius_km"
OCCUPATIONS = "occupations"  # raw: ROME codes or free-text titles
SKILLS = "skills"  # raw: ROME item codes or free text
CONTRACT_TYPES = "contract_types"
WORKING_TIME = "working_time"
DRIVING_LICENCE = "driving_licence"
EXPERIENCE_MONTHS = "experience_months"
SMS_CONSENT = "sms_consent"
PREFERRED_CHANNEL = "preferred_channel"
AGENCY_ID = "agency_id"
UPDATED_AT = "updated_at"
CLOSES_ON = "closes_on"  # a vacancy's last open day
# protected attributes: stored apart, read only by the fairness audit
GENDER = "gender"
BIRTH_YEAR = "birth_year"
DISABILITY = "disability"
PROTECTED = (GENDER, BIRTH_YEAR, DISABILITY)

# vacancies (canonical, after ingest)
VACANCY_ID = "vacancy_id"
TITLE = "title"
ROME_CODE = "rome_code"
LATITUDE = "latitude"
LONGITUDE = "longitude"
CONTRACT_TYPE = "contract_type"
SKILL_CODES = "skill_codes"
REQUIRED_SKILL_CODES = "required_skill_codes"
LICENCE_REQUIRED = "licence_required"
EXPERIENCE_REQUIRED_MONTHS = "experience_required_months"
QUALIFICATION_CODE = "qualification_code"
POSITIONS = "positions"
SOURCE = "source"

# normalized
ROME_CODES = "rome_codes"  # a seeker's desired ROME sheets after normalization
ITEM_CODES = "item_codes"  # a seeker's ROME items after normalization
DENSITY_LEVEL = "density_level"

# matches
DISTANCE_KM = "distance_km"
SKILL_SCORE = "skill_score"
OCCUPATION_SCORE = "occupation_score"
DISTANCE_SCORE = "distance_score"
SCORE = "score"
RANK = "rank"
OCCUPATION_RELATION = "occupation_relation"  # same_sheet | mobility | other
MATCHED_SKILLS = "matched_skills"
MISSING_REQUIRED_SKILLS = "missing_required_skills"

# routing
CHANNEL = "channel"  # sms | counsellor | suppressed | none
REASON = "reason"

# quarantine
FILE = "file"
LINE = "line"
FIELD = "field"
RAW = "raw"

# working time and channel vocabularies
FULL_TIME = "full_time"
PART_TIME = "part_time"
ANY = "any"
WORKING_TIMES = (FULL_TIME, PART_TIME, ANY)
CHANNEL_SMS = "sms"
CHANNEL_COUNSELLOR = "counsellor"
CHANNEL_SUPPRESSED = "suppressed"
PREFERRED_CHANNELS = (CHANNEL_SMS, CHANNEL_COUNSELLOR, "none")
# France Travail contract type codes (typeContrat)
CONTRACT_CODES = ("CDI", "CDD", "MIS", "SAI", "LIB", "FRA", "CCE", "DIN", "DDI", "TTI", "DDT", "REP")
