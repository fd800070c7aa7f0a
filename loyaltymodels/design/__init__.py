"""Study design: a questionnaire that measures beliefs and experience, and the sample it needs."""

from .bank import item_bank
from .files import write_design
from .instrument import Questionnaire
from .plan import SamplePlan
from .planning import sample_size
from .selection import questionnaire

__all__ = ["Questionnaire", "SamplePlan", "item_bank", "questionnaire", "sample_size", "write_design"]
