"""The playground's endpoints, one ``APIRouter`` per part; ``create_app`` includes them in order."""
